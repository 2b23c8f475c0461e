//! A1111's prompt syntax: emphasis weights and 75-token chunks.
//!
//! `(word)` multiplies the weight by 1.1, `[word]` divides it by 1.1, `(word:1.3)` sets a factor,
//! `\(` is a literal bracket, `BREAK` starts a new chunk. Prompts longer than 75 tokens are not cut:
//! they become several 77-token chunks (BOS, 75 tokens, EOS), each encoded by CLIP and
//! concatenated, and a chunk boundary moves back to a comma within the last 20 tokens, as in
//! A1111's `prompt_parser.parse_prompt_attention` and `sd_hijack_clip.tokenize_line`.

use std::sync::LazyLock;

use regex::Regex;

use crate::components::tokenizer::{ClipTokenizer, BOS, EOS};

/// Tokens per chunk between BOS and EOS.
pub const CHUNK_LENGTH: usize = 75;
/// A1111's `comma_padding_backtrack` default.
pub const COMMA_BACKTRACK: usize = 20;

const ROUND: f64 = 1.1;
const SQUARE: f64 = 1.0 / 1.1;

static ATTENTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()\[\]:]+|:").expect("valid pattern"));
static BREAK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s*\bBREAK\b\s*").expect("valid pattern"));

/// One run of prompt text and its weight; `Break` separates chunks.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String, f64),
    Break,
}

/// Parses emphasis into runs of equal weight (A1111's `parse_prompt_attention`).
pub fn parse_attention(text: &str) -> Vec<Piece> {
    let mut res: Vec<(String, f64)> = Vec::new(); // weight -1 marks BREAK, as in A1111
    let mut round: Vec<usize> = Vec::new();
    let mut square: Vec<usize> = Vec::new();
    let multiply = |res: &mut Vec<(String, f64)>, from: usize, by: f64| {
        for r in &mut res[from..] {
            r.1 *= by;
        }
    };
    for m in ATTENTION.captures_iter(text) {
        let t = m.get(0).expect("whole match").as_str();
        let weight = m.get(1).and_then(|w| w.as_str().parse::<f64>().ok());
        if let Some(escaped) = t.strip_prefix('\\') {
            res.push((escaped.to_string(), 1.0));
        } else if t == "(" {
            round.push(res.len());
        } else if t == "[" {
            square.push(res.len());
        } else if weight.is_some() && !round.is_empty() {
            let from = round.pop().expect("checked");
            multiply(&mut res, from, weight.expect("checked"));
        } else if t == ")" && !round.is_empty() {
            let from = round.pop().expect("checked");
            multiply(&mut res, from, ROUND);
        } else if t == "]" && !square.is_empty() {
            let from = square.pop().expect("checked");
            multiply(&mut res, from, SQUARE);
        } else {
            for (i, part) in BREAK.split(t).enumerate() {
                if i > 0 {
                    res.push(("BREAK".into(), -1.0));
                }
                res.push((part.to_string(), 1.0));
            }
        }
    }
    for from in round {
        multiply(&mut res, from, ROUND);
    }
    for from in square {
        multiply(&mut res, from, SQUARE);
    }
    if res.is_empty() {
        res.push((String::new(), 1.0));
    }
    // Merge neighbours of equal weight.
    let mut i = 0;
    while i + 1 < res.len() {
        if res[i].1 == res[i + 1].1 {
            let next = res.remove(i + 1);
            res[i].0.push_str(&next.0);
        } else {
            i += 1;
        }
    }
    res.into_iter().map(|(t, w)| if t == "BREAK" && w == -1.0 { Piece::Break } else { Piece::Text(t, w) }).collect()
}

/// 77 token ids and the weight of each (BOS/EOS/padding weigh 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub tokens: Vec<u32>,
    pub weights: Vec<f64>,
}

/// The chunks of a prompt (A1111's `tokenize_line`), and the number of prompt tokens.
pub fn chunks(tokenizer: &ClipTokenizer, prompt: &str) -> (Vec<Chunk>, usize) {
    let comma = tokenizer.token_id(",</w>").unwrap_or(u32::MAX);
    let mut out = Vec::new();
    let mut tokens: Vec<u32> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    let mut token_count = 0usize;
    let mut last_comma: Option<usize> = None;

    fn close(
        out: &mut Vec<Chunk>,
        tokens: &mut Vec<u32>,
        weights: &mut Vec<f64>,
        token_count: &mut usize,
        last_comma: &mut Option<usize>,
        is_last: bool,
    ) {
        *token_count += if is_last { tokens.len() } else { CHUNK_LENGTH };
        let pad = CHUNK_LENGTH.saturating_sub(tokens.len());
        let mut t = vec![BOS];
        t.append(tokens);
        t.extend(std::iter::repeat_n(EOS, pad + 1));
        let mut w = vec![1.0];
        w.append(weights);
        w.extend(std::iter::repeat_n(1.0, pad + 1));
        *last_comma = None;
        out.push(Chunk { tokens: t, weights: w });
    }

    for piece in parse_attention(prompt) {
        let (text, weight) = match piece {
            Piece::Break => {
                close(&mut out, &mut tokens, &mut weights, &mut token_count, &mut last_comma, false);
                continue;
            }
            Piece::Text(t, w) => (t, w),
        };
        for token in tokenizer.encode(&text) {
            if token == comma {
                last_comma = Some(tokens.len());
            } else if let Some(lc) = last_comma.filter(|lc| tokens.len() == CHUNK_LENGTH && tokens.len() - lc <= COMMA_BACKTRACK) {
                // Move the words after the last comma into the next chunk.
                let moved_tokens = tokens.split_off(lc + 1);
                let moved_weights = weights.split_off(lc + 1);
                close(&mut out, &mut tokens, &mut weights, &mut token_count, &mut last_comma, false);
                tokens = moved_tokens;
                weights = moved_weights;
            }
            if tokens.len() == CHUNK_LENGTH {
                close(&mut out, &mut tokens, &mut weights, &mut token_count, &mut last_comma, false);
            }
            tokens.push(token);
            weights.push(weight);
        }
    }
    if !tokens.is_empty() || out.is_empty() {
        close(&mut out, &mut tokens, &mut weights, &mut token_count, &mut last_comma, true);
    }
    (out, token_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str, w: f64) -> Piece {
        Piece::Text(s.to_string(), w)
    }

    fn close_to(a: &[Piece], b: &[Piece]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Piece::Text(s1, w1), Piece::Text(s2, w2)) => s1 == s2 && (w1 - w2).abs() < 1e-9,
                (Piece::Break, Piece::Break) => true,
                _ => false,
            })
    }

    /// The examples A1111 documents for `parse_prompt_attention`.
    #[test]
    fn a1111_documented_examples() {
        let cases: Vec<(&str, Vec<Piece>)> = vec![
            ("normal text", vec![t("normal text", 1.0)]),
            ("an (important) word", vec![t("an ", 1.0), t("important", 1.1), t(" word", 1.0)]),
            ("(unbalanced", vec![t("unbalanced", 1.1)]),
            ("\\(literal\\]", vec![t("(literal]", 1.0)]),
            ("(unnecessary)(parens)", vec![t("unnecessaryparens", 1.1)]),
            (
                "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
                vec![
                    t("a ", 1.0),
                    t("house", 1.5730000000000004),
                    t(" ", 1.1),
                    t("on", 1.0),
                    t(" a ", 1.1),
                    t("hill", 0.55),
                    t(", sun, ", 1.1),
                    t("sky", 1.4641000000000006),
                    t(".", 1.1),
                ],
            ),
            ("", vec![t("", 1.0)]),
            ("a BREAK b", vec![t("a", 1.0), Piece::Break, t("b", 1.0)]),
            ("stray) and :colon", vec![t("stray) and :colon", 1.0)]),
            ("[[faded]]", vec![t("faded", 1.0 / 1.1 / 1.1)]),
            // A lone backslash escapes nothing and disappears, as in A1111.
            ("a \\ b", vec![t("a  b", 1.0)]),
        ];
        for (prompt, expected) in cases {
            let got = parse_attention(prompt);
            assert!(close_to(&got, &expected), "{prompt:?}: {got:?}");
        }
    }
}
