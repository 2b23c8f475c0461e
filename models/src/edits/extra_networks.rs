//! A1111's extra-network tags in prompts: `<lora:name:0.8>` (and `<lyco:…>`) name a LoRA from the
//! LoRA folder and its weight; the tags are cut out of the prompt text before it is encoded, as
//! A1111's `extra_networks.parse_prompt` does.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<(\w+):([^>]+)>").expect("valid pattern"));

/// A LoRA a prompt asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraTag {
    pub name: String,
    /// The text encoder's multiplier (A1111's first number; the UNet's, if given, is ignored).
    pub weight: f32,
}

/// A1111's LoRA folder: the `.safetensors` files in it, each named by its file name without the
/// extension, as `<lora:NAME>` and `/sdapi/v1/loras` name them.
pub struct LoraFolder<'a>(pub &'a Path);

impl LoraFolder<'_> {
    /// The LoRAs, (name, path), sorted by name; none if the folder cannot be read.
    pub fn list(&self) -> Vec<(String, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.0) else { return Vec::new() };
        let mut list: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "safetensors"))
            .filter_map(|p| Some((p.file_stem()?.to_string_lossy().into_owned(), p)))
            .collect();
        list.sort();
        list
    }

    /// The file `<lora:NAME>` means: the LoRA of exactly that name, else the one whose name
    /// differs only in ASCII case (a tag typed by hand on a booth whose files are `Warm.safetensors`).
    /// Only files listed in the folder are found, so a name cannot reach outside it.
    pub fn resolve(&self, name: &str) -> Option<PathBuf> {
        let list = self.list();
        let exact = list.iter().find(|(n, _)| n == name);
        exact.or_else(|| list.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))).map(|(_, path)| path.clone())
    }
}

/// The prompt without its LoRA tags, and the tags; other extra networks (hypernetworks…) are left
/// in the text. A weight that is not a number is an error naming the tag.
pub fn take_lora_tags(prompt: &str) -> Result<(String, Vec<LoraTag>), String> {
    let mut tags = Vec::new();
    let mut problem = None;
    let text = TAG.replace_all(prompt, |c: &regex::Captures| {
        let kind = &c[1];
        if kind != "lora" && kind != "lyco" {
            return c[0].to_string();
        }
        let mut args = c[2].split(':');
        let name = args.next().unwrap_or("").trim().to_string();
        let weight = match args.next().map(str::trim) {
            None => 1.0,
            Some(w) => w.parse::<f32>().unwrap_or_else(|_| {
                problem = Some(format!("{}: {w:?} is not a weight (write <lora:{name}:0.8>)", &c[0]));
                1.0
            }),
        };
        tags.push(LoraTag { name, weight });
        String::new()
    });
    match problem {
        Some(p) => Err(p),
        None => Ok((text.into_owned(), tags)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lora_tags_are_taken_out_as_a1111_does() {
        let (text, tags) = take_lora_tags("a portrait <lora:warm-style:0.8>, soft light <lora:film>").unwrap();
        assert_eq!(text, "a portrait , soft light ");
        assert_eq!(tags, [LoraTag { name: "warm-style".into(), weight: 0.8 }, LoraTag { name: "film".into(), weight: 1.0 }]);
        let (text, tags) = take_lora_tags("x <lyco:loha:0.5:0.3> <hypernet:h:1>").unwrap();
        assert_eq!((text.as_str(), tags.len(), tags[0].weight), ("x  <hypernet:h:1>", 1, 0.5));
        assert!(take_lora_tags("<lora:a:strong>").unwrap_err().contains("not a weight"));
        assert_eq!(take_lora_tags("no tags (at:1.2)").unwrap(), ("no tags (at:1.2)".to_string(), vec![]));
    }

    #[test]
    fn a_lora_tag_finds_its_file_by_exact_name_then_by_case_and_never_outside_the_folder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("Lora");
        std::fs::create_dir(&dir).unwrap();
        for name in ["Warm.safetensors", "warm.safetensors", "Film.safetensors", "notes.txt"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        std::fs::write(root.path().join("outside.safetensors"), b"").unwrap();
        let folder = LoraFolder(&dir);
        let names: Vec<String> = folder.list().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Film", "Warm", "warm"]);
        assert_eq!(folder.resolve("warm"), Some(dir.join("warm.safetensors")));
        assert_eq!(folder.resolve("Warm"), Some(dir.join("Warm.safetensors")));
        assert_eq!(folder.resolve("film"), Some(dir.join("Film.safetensors")));
        assert_eq!(folder.resolve("notes"), None);
        assert_eq!(folder.resolve("../outside"), None);
        assert_eq!(LoraFolder(&root.path().join("missing")).resolve("warm"), None);
    }
}
