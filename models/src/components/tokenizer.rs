//! The CLIP BPE tokenizer of Stable Diffusion 1.5, id for id the same as transformers'
//! `CLIPTokenizer` (5.x) with SD 1.5's `tokenizer/` files.
//!
//! The pipeline is the one transformers' tokenizer.json describes: NFC, runs of whitespace to one
//! space, lower-case; split into words with CLIP's pattern; GPT-2 byte-to-unicode mapping; BPE
//! with `</w>` marking the end of a word. `<|startoftext|>` and `<|endoftext|>` written in the text
//! are the special tokens themselves, as in transformers.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

pub const BOS: u32 = 49406;
pub const EOS: u32 = 49407;
/// SD 1.5's text encoder reads 77 tokens: BOS, 75 tokens, EOS (or padding).
pub const MAX_LENGTH: usize = 77;

const START: &str = "<|startoftext|>";
const END: &str = "<|endoftext|>";

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("tokenizer file {path}: {problem} (fix: {fix})")]
    File { path: PathBuf, problem: String, fix: &'static str },
    #[error("tokenizer files are inconsistent: {0} (fix: use the vocab.json and merges.txt of one model)")]
    Inconsistent(String),
}

const FIX_FILES: &str = "the model's tokenizer/ folder needs vocab.json and merges.txt (as in SD 1.5's diffusers layout)";

pub struct ClipTokenizer {
    encoder: HashMap<String, u32>,
    ranks: HashMap<(String, String), u32>,
    byte_encoder: [char; 256],
    words: Regex,
    cache: Mutex<HashMap<String, Vec<u32>>>,
    /// Words added after training (textual-inversion embeddings): each stands for its ids and is
    /// never split, as transformers' added tokens.
    added: Vec<(String, Vec<u32>)>,
}

/// GPT-2's reversible map from bytes to printable characters, in its own order (printable
/// bytes first): CLIP's vocabulary starts with these characters in this order.
fn bytes_to_unicode_ordered() -> Vec<(u8, char)> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut chars: Vec<u32> = printable.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    printable.into_iter().zip(chars).map(|(b, c)| (b as u8, char::from_u32(c).expect("valid code point"))).collect()
}

fn bytes_to_unicode() -> [char; 256] {
    let mut map = ['\0'; 256];
    for (b, c) in bytes_to_unicode_ordered() {
        map[b as usize] = c;
    }
    map
}

impl ClipTokenizer {
    /// From a `tokenizer/` folder (vocab.json + merges.txt).
    pub fn from_dir(dir: &Path) -> Result<Self, TokenizerError> {
        Self::from_files(&dir.join("vocab.json"), &dir.join("merges.txt"))
    }

    pub fn from_files(vocab_json: &Path, merges_txt: &Path) -> Result<Self, TokenizerError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| TokenizerError::File {
                path: p.to_path_buf(),
                problem: format!("cannot read: {e}"),
                fix: FIX_FILES,
            })
        };
        let vocab_text = read(vocab_json)?;
        let merges_text = read(merges_txt)?;
        let encoder: HashMap<String, u32> = serde_json::from_str(&vocab_text).map_err(|e| TokenizerError::File {
            path: vocab_json.to_path_buf(),
            problem: format!("not a JSON object of token -> id: {e}"),
            fix: FIX_FILES,
        })?;
        let merges =
            merges_text.lines().filter(|l| !l.starts_with("#version") && !l.trim().is_empty()).map(str::to_string).collect::<Vec<_>>();
        Self::new(encoder, &merges)
    }

    /// From the OpenAI CLIP BPE file (`bpe_simple_vocab_16e6.txt`, as shipped by CLIP and
    /// open_clip), with OpenAI's recipe for the vocabulary; equal to SD 1.5's tokenizer files.
    pub fn from_openai_bpe(text: &str) -> Result<Self, TokenizerError> {
        let merges: Vec<String> = text.lines().skip(1).take(49152 - 256 - 2).map(str::to_string).collect();
        let bytes = bytes_to_unicode_ordered();
        let mut vocab: Vec<String> = bytes.iter().map(|(_, c)| c.to_string()).collect();
        vocab.extend(bytes.iter().map(|(_, c)| format!("{c}</w>")));
        for m in &merges {
            vocab.push(m.split(' ').collect::<String>());
        }
        vocab.push(START.into());
        vocab.push(END.into());
        let encoder = vocab.into_iter().enumerate().map(|(i, t)| (t, i as u32)).collect();
        Self::new(encoder, &merges)
    }

    fn new(encoder: HashMap<String, u32>, merges: &[String]) -> Result<Self, TokenizerError> {
        for (token, id) in [(START, BOS), (END, EOS)] {
            if encoder.get(token) != Some(&id) {
                return Err(TokenizerError::Inconsistent(format!("{token} must have id {id}, found {:?}", encoder.get(token))));
            }
        }
        let mut ranks = HashMap::with_capacity(merges.len());
        for (rank, line) in merges.iter().enumerate() {
            let Some((a, b)) = line.split_once(' ') else {
                return Err(TokenizerError::Inconsistent(format!("merge line {} is not two symbols: {line:?}", rank + 1)));
            };
            ranks.insert((a.to_string(), b.to_string()), rank as u32);
        }
        // CLIP's word pattern; the GPT-2 pattern that transformers applies after it splits these
        // pieces no further, so one pattern is enough.
        let words = Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+").expect("valid pattern");
        Ok(Self { encoder, ranks, byte_encoder: bytes_to_unicode(), words, cache: Mutex::new(HashMap::new()), added: Vec::new() })
    }

    /// Every token with its id (to write a vocab.json).
    pub fn vocab(&self) -> impl Iterator<Item = (&str, u32)> {
        self.encoder.iter().map(|(t, id)| (t.as_str(), *id))
    }

    /// Ids in use: the vocabulary and the added words' ids.
    pub fn vocab_size(&self) -> usize {
        self.encoder.len() + self.added.iter().map(|(_, ids)| ids.len()).sum::<usize>()
    }

    /// Adds `word` standing for `count` new ids (after every id in use); returns the first.
    /// `word` is matched as written in the prompt and never split.
    pub fn add_word(&mut self, word: &str, count: usize) -> u32 {
        let first = self.vocab_size() as u32;
        self.added.push((word.to_string(), (first..first + count as u32).collect()));
        // Longest first, so a word that contains another is matched whole.
        self.added.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
        first
    }

    /// The added word, if `word` is one.
    pub fn added_ids(&self, word: &str) -> Option<&[u32]> {
        self.added.iter().find(|(w, _)| w == word).map(|(_, ids)| ids.as_slice())
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.encoder.get(token).copied()
    }

    /// The ids of `text`, without BOS/EOS, not truncated.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        // Special tokens and added words are taken from the raw text first, as transformers does.
        let specials = [(START, vec![BOS]), (END, vec![EOS])];
        let mut rest = text;
        while !rest.is_empty() {
            let next = specials
                .iter()
                .map(|(t, ids)| (*t, ids.as_slice()))
                .chain(self.added.iter().map(|(w, ids)| (w.as_str(), ids.as_slice())))
                .filter_map(|(t, ids)| rest.find(t).map(|at| (at, t, ids)))
                .min_by_key(|(at, _, _)| *at);
            match next {
                Some((at, token, token_ids)) => {
                    self.encode_plain(&rest[..at], &mut ids);
                    ids.extend_from_slice(token_ids);
                    rest = &rest[at + token.len()..];
                }
                None => {
                    self.encode_plain(rest, &mut ids);
                    rest = "";
                }
            }
        }
        ids
    }

    /// SD 1.5's text-encoder input: BOS, the ids truncated to 75, EOS, padded with EOS to 77.
    pub fn encode_padded(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![BOS];
        ids.extend(self.encode(text).into_iter().take(MAX_LENGTH - 2));
        ids.push(EOS);
        ids.resize(MAX_LENGTH, EOS);
        ids
    }

    fn normalize(text: &str) -> String {
        let nfc: String = text.nfc().collect();
        let mut out = String::with_capacity(nfc.len());
        let mut in_space = false;
        for c in nfc.chars() {
            if c.is_whitespace() {
                if !in_space {
                    out.push(' ');
                }
                in_space = true;
            } else {
                in_space = false;
                out.extend(c.to_lowercase());
            }
        }
        out
    }

    fn encode_plain(&self, text: &str, ids: &mut Vec<u32>) {
        let text = Self::normalize(text);
        for word in self.words.find_iter(&text) {
            let mapped: String = word.as_str().bytes().map(|b| self.byte_encoder[b as usize]).collect();
            let mut cache = self.cache.lock();
            if let Some(hit) = cache.get(&mapped) {
                ids.extend_from_slice(hit);
                continue;
            }
            let word_ids = self.bpe(&mapped);
            ids.extend_from_slice(&word_ids);
            if cache.len() < 100_000 {
                cache.insert(mapped, word_ids);
            }
        }
    }

    /// Byte-pair merges of one word, lowest-ranked pair first; the last symbol carries `</w>`.
    fn bpe(&self, word: &str) -> Vec<u32> {
        let chars: Vec<char> = word.chars().collect();
        let mut symbols: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
        if let Some(last) = symbols.last_mut() {
            last.push_str("</w>");
        }
        loop {
            let best =
                symbols.windows(2).enumerate().filter_map(|(i, w)| self.ranks.get(&(w[0].clone(), w[1].clone())).map(|r| (*r, i))).min();
            let Some((_, at)) = best else { break };
            // Merge every occurrence of the best pair, left to right.
            let (a, b) = (symbols[at].clone(), symbols[at + 1].clone());
            let mut merged = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len() && symbols[i] == a && symbols[i + 1] == b {
                    merged.push(format!("{a}{b}"));
                    i += 2;
                } else {
                    merged.push(std::mem::take(&mut symbols[i]));
                    i += 1;
                }
            }
            symbols = merged;
            if symbols.len() == 1 {
                break;
            }
        }
        symbols.iter().map(|s| self.encoder.get(s).copied().unwrap_or(EOS)).collect()
    }
}
