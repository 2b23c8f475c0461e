//! The problem-collecting reader under the booth's TOML config: every value is read with its
//! default, range and an example, every problem is kept (key, what is wrong, the fix) instead of
//! stopping at the first, and keys nobody read are reported as typos or leftovers at the end.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepsake_drivers::fbdev::Rotation;

/// A closed set of kinds a config key names by string (`kind = "cups"`). One list gives the enum,
/// its names and the choices a problem offers, so a kind added to the list is a compile error in
/// every exhaustive match that does not handle it yet.
pub(crate) trait Kind: Copy + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

/// `config_kinds! { pub enum PrinterKind { Image = "image", Cups = "cups" } }`
macro_rules! config_kinds {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($variant),+
        }

        impl $crate::config_reader::Kind for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}
pub(crate) use config_kinds;

/// One thing wrong with the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub problem: String,
    pub fix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} has {} problem(s):", self.source_name, self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {}: {}\n      fix: {}", p.key, p.problem, p.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads typed values out of a TOML table, collecting every problem instead of stopping at the
/// first, and remembering which keys were read so the rest can be reported as unknown.
pub(crate) struct Reader<'a> {
    root: &'a toml::Table,
    base: PathBuf,
    problems: Vec<Problem>,
    known: BTreeSet<String>,
}

pub(crate) fn type_name(v: &toml::Value) -> &'static str {
    v.type_str()
}

impl<'a> Reader<'a> {
    /// A reader over `root`; relative paths resolve against `base` (the config file's folder).
    pub(crate) fn new(root: &'a toml::Table, base: &Path) -> Self {
        Reader { root, base: base.to_path_buf(), problems: Vec::new(), known: BTreeSet::new() }
    }

    /// Every problem found so far, in the order the keys were read.
    pub(crate) fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    pub(crate) fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// Reads one table of a list (`[[style.controlnet]]`) with its own reader, and files its
    /// problems here under `key[i].`.
    pub(crate) fn entry<T>(&mut self, key: &str, i: usize, table: &toml::Table, read: impl FnOnce(&mut Reader) -> T) -> T {
        let mut r = Reader::new(table, &self.base);
        let value = read(&mut r);
        r.unknown_keys();
        for p in r.problems {
            self.problems.push(Problem { key: format!("{key}[{i}].{}", p.key), ..p });
        }
        value
    }

    /// One of a closed set of kinds (see [`Kind`]); an unknown name is a problem listing them all.
    pub(crate) fn choice<K: Kind>(&mut self, key: &str, default: K, what: &str) -> K {
        let name = self.string(key, Some(default.name()), &format!("\"{}\"", default.name()));
        if name.is_empty() {
            // Already reported (empty, or not a string).
            return default;
        }
        match K::ALL.iter().find(|k| k.name() == name) {
            Some(k) => *k,
            None => {
                let names: Vec<&str> = K::ALL.iter().map(|k| k.name()).collect();
                self.problem(key, format!("unknown {what} {name:?}"), format!("use one of: {}", names.join(", ")));
                default
            }
        }
    }

    pub(crate) fn problem(&mut self, key: &str, problem: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem { key: key.to_string(), problem: problem.into(), fix: fix.into() });
    }

    pub(crate) fn get(&mut self, key: &str) -> Option<&'a toml::Value> {
        self.known.insert(key.to_string());
        let mut parts = key.split('.').peekable();
        let mut table = self.root;
        while let Some(part) = parts.next() {
            let v = table.get(part)?;
            if parts.peek().is_none() {
                return Some(v);
            }
            table = v.as_table()?;
        }
        None
    }

    pub(crate) fn string(&mut self, key: &str, default: Option<&str>, example: &str) -> String {
        match self.get(key) {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(toml::Value::String(_)) => {
                self.problem(key, "is empty", format!("write a value, e.g. {key} = {example}"));
                String::new()
            }
            Some(v) => {
                self.problem(key, format!("must be a string, found a {}", type_name(v)), format!("quote it: {key} = {example}"));
                String::new()
            }
            None => match default {
                Some(d) => d.to_string(),
                None => {
                    self.problem(key, "is missing", format!("add {key} = {example}"));
                    String::new()
                }
            },
        }
    }

    pub(crate) fn opt_string(&mut self, key: &str, example: &str) -> Option<String> {
        self.get(key)?;
        Some(self.string(key, None, example))
    }

    pub(crate) fn path(&mut self, key: &str, default: Option<&str>, example: &str) -> PathBuf {
        let s = self.string(key, default, example);
        self.resolve(&s)
    }

    pub(crate) fn opt_path(&mut self, key: &str, example: &str) -> Option<PathBuf> {
        self.opt_string(key, example).map(|s| self.resolve(&s))
    }

    /// Relative paths are relative to the config file, as a technician reading it expects.
    pub(crate) fn resolve(&self, s: &str) -> PathBuf {
        let p = Path::new(s);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub(crate) fn number(&mut self, key: &str, default: f64, min: f64, max: f64, unit: &str) -> f64 {
        let v = match self.get(key) {
            None => return default,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(f)) => *f,
            Some(v) => {
                self.problem(
                    key,
                    format!("must be a number, found a {}", type_name(v)),
                    format!("write a number without quotes, e.g. {key} = {default}"),
                );
                return default;
            }
        };
        if !(min..=max).contains(&v) {
            self.problem(key, format!("{v} is out of range"), format!("use {min}..={max} {unit}"));
            return default;
        }
        v
    }

    pub(crate) fn seconds(&mut self, key: &str, default: f64, min: f64, max: f64) -> Duration {
        Duration::from_secs_f64(self.number(key, default, min, max, "seconds"))
    }

    pub(crate) fn kind(&mut self, key: &str, default: &str, allowed: &[&str], what: &str) -> String {
        let k = self.string(key, Some(default), &format!("\"{default}\""));
        if !k.is_empty() && !allowed.contains(&k.as_str()) {
            self.problem(key, format!("unknown {what} {k:?}"), format!("use one of: {}", allowed.join(", ")));
            return default.to_string();
        }
        k
    }

    /// How a panel is mounted: 0, 90, 180 or 270 degrees clockwise.
    pub(crate) fn rotation(&mut self, key: &str) -> Rotation {
        let degrees = self.number(key, 0.0, 0.0, 270.0, "degrees");
        Rotation::from_degrees(degrees as u32).filter(|_| degrees.fract() == 0.0).unwrap_or_else(|| {
            self.problem(key, format!("{degrees} is not a quarter turn"), "use 0, 90, 180 or 270 (degrees clockwise)");
            Rotation::R0
        })
    }

    pub(crate) fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(toml::Value::Boolean(b)) => *b,
            Some(v) => {
                self.problem(key, format!("must be true or false, found a {}", type_name(v)), format!("write {key} = {default}"));
                default
            }
        }
    }

    /// `[devices.input]` for an evdev touchscreen: the device, the calibration measured on the
    /// Keys present in the file that nothing read: typos and leftovers.
    pub(crate) fn unknown_keys(&mut self) {
        let mut found = Vec::new();
        collect_keys(self.root, "", &mut found);
        for key in found {
            let is_known = self.known.contains(&key) || self.known.iter().any(|k| k.starts_with(&format!("{key}.")));
            if !is_known {
                let suggestion = self
                    .known
                    .iter()
                    .filter(|k| edit_distance(k, &key) <= 2)
                    .min_by_key(|k| edit_distance(k, &key))
                    .map(|k| format!("did you mean {k}?"))
                    .unwrap_or_else(|| "remove it (see `keepsake config example`)".to_string());
                self.problem(&key, "is not a known setting", suggestion);
            }
        }
    }
}

fn collect_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => collect_keys(t, &key, out),
            _ => out.push(key),
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + (ca != *cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    config_kinds! {
        enum Fruit { Apple = "apple", Pear = "pear" }
    }

    #[test]
    fn a_kind_is_read_by_its_name_and_an_unknown_one_lists_every_name() {
        let table: toml::Table = toml::from_str("a = \"pear\"\nb = \"plum\"\nc = 3\n").unwrap();
        let mut r = Reader::new(&table, Path::new("/etc/keepsake"));
        assert_eq!(r.choice("a", Fruit::Apple, "fruit"), Fruit::Pear);
        assert_eq!(r.choice("b", Fruit::Apple, "fruit"), Fruit::Apple);
        assert_eq!(r.choice("c", Fruit::Pear, "fruit"), Fruit::Pear);
        assert_eq!(r.choice("d", Fruit::Pear, "fruit"), Fruit::Pear);
        r.unknown_keys();
        let p = r.into_problems();
        assert_eq!(p.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["b", "c"], "{p:?}");
        assert_eq!((p[0].problem.as_str(), p[0].fix.as_str()), ("unknown fruit \"plum\"", "use one of: apple, pear"));
        assert!(p[1].problem.contains("must be a string"), "{:?}", p[1]);
    }
}
