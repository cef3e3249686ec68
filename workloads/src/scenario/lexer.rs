//! Tokens of the scenario language.
//!
//! The lexer turns text into identifiers, integers (decimal, `0x` hex, or a duration such
//! as `5ms`, which is an integer number of nanoseconds), strings with C escapes,
//! punctuation and end-of-line tokens (a newline ends a statement). `#` starts a comment
//! that runs to the end of the line. Every token carries its line, column and byte range,
//! so that errors can point at it and results can quote the text as written. A leading
//! UTF-8 byte-order mark is skipped (it takes no column).
//!
//! A word that starts with a digit but is no number (`2cpu`, a decimal number above
//! `i64::MAX`) is a [`Tok::DigitWord`], not an error: it is a fine segment of a name such
//! as `scenario check-2cpu`, and the parser reports it, with what a number must look
//! like, wherever a value is expected.

use super::ParseError;

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    /// An integer; durations are already in nanoseconds.
    Int(i64),
    /// A word that starts with a digit but is not a number; the text says what a number
    /// would have to be ("a number that fits in 64 bits ...").
    DigitWord(String),
    Str(Vec<u8>),
    /// Punctuation or an operator: `(`, `==`, `|`, `:`, ...
    Punct(&'static str),
    /// The end of a line (or a `;`): statement separator.
    Newline,
    Eof,
}

/// A token and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
    pub col: u32,
    /// Byte range in the source text.
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// How an error message names this token: "`foo`", "end of line", ...
    pub fn describe(&self, text: &str) -> String {
        match &self.tok {
            Tok::Newline if text.get(self.start..self.end) == Some(";") => "`;`".to_string(),
            Tok::Newline => "end of line".to_string(),
            Tok::Eof => "end of file".to_string(),
            Tok::Str(_) => format!(
                "string {}",
                clip(text.get(self.start..self.end).unwrap_or(""))
            ),
            Tok::Int(_) => format!("number `{}`", text.get(self.start..self.end).unwrap_or("")),
            Tok::DigitWord(_) => format!("`{}`", text.get(self.start..self.end).unwrap_or("")),
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Punct(p) => format!("`{p}`"),
        }
    }

    pub fn is_punct(&self, p: &str) -> bool {
        // Byte by byte: a punctuation mark is one or two bytes, shorter than a call to
        // memcmp.
        matches!(&self.tok, Tok::Punct(q) if q.len() == p.len()
            && q.bytes().zip(p.bytes()).all(|(a, b)| a == b))
    }

    pub fn is_ident(&self, name: &str) -> bool {
        matches!(&self.tok, Tok::Ident(n) if n == name)
    }
}

/// At most 24 characters of `text`, with control characters escaped: a message is one
/// line.
fn clip(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(24) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if text.chars().count() > 24 {
        out.push_str("...");
    }
    out
}

/// Punctuation, longest first so that `==` wins over `=`.
const PUNCTS: &[&str] = &[
    "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "(", ")", "{", "}", "[", "]", ",", ".", ":",
    "=", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~",
];

/// Duration units and their length in nanoseconds.
pub const UNITS: &[(&str, i64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
];

/// The UTF-8 byte-order mark some editors write at the start of a file.
pub const BYTE_ORDER_MARK: char = '\u{feff}';

/// Splits `text` into tokens. The last token is always [`Tok::Eof`].
pub fn lex(file: &str, text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        file,
        text,
        bytes: text.as_bytes(),
        // Byte ranges stay those of `text`; the mark takes no column.
        pos: if text.starts_with(BYTE_ORDER_MARK) {
            BYTE_ORDER_MARK.len_utf8()
        } else {
            0
        },
        line: 1,
        col: 1,
        // About one token for every five bytes of a scenario: one allocation, not many.
        tokens: Vec::with_capacity(text.len() / 5),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    file: &'a str,
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn error(&self, line: u32, col: u32, message: String) -> ParseError {
        ParseError::new(self.file, line, col, message)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    /// Advances one character (UTF-8 aware, so columns count characters).
    fn bump(&mut self) {
        // ASCII, nearly every byte of a scenario: no decoding.
        match self.bytes.get(self.pos) {
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
                self.col = 1;
                return;
            }
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                self.col += 1;
                return;
            }
            _ => {}
        }
        let Some(c) = self.text.get(self.pos..).and_then(|s| s.chars().next()) else {
            self.pos = self.bytes.len();
            return;
        };
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
    }

    fn push(&mut self, tok: Tok, line: u32, col: u32, start: usize) {
        self.tokens.push(Token {
            tok,
            line,
            col,
            start,
            end: self.pos,
        });
    }

    fn run(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek() {
            let (line, col, start) = (self.line, self.col, self.pos);
            match c {
                b' ' | b'\t' | b'\r' => self.bump(),
                b'#' => {
                    // To the end of the line in one step; the column counts characters
                    // (every byte but a UTF-8 continuation byte starts one).
                    let rest = &self.bytes[self.pos..];
                    let length = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                    let chars = rest[..length].iter().filter(|&&c| c & 0xc0 != 0x80).count();
                    self.pos += length;
                    self.col = self
                        .col
                        .saturating_add(u32::try_from(chars).unwrap_or(u32::MAX));
                }
                b'\n' | b';' => {
                    self.bump();
                    self.push(Tok::Newline, line, col, start);
                }
                b'"' => self.string(line, col, start)?,
                b'0'..=b'9' => self.number(line, col, start)?,
                c if c == b'_' || c.is_ascii_alphabetic() => {
                    while self
                        .peek()
                        .is_some_and(|c| c == b'_' || c.is_ascii_alphanumeric())
                    {
                        self.bump();
                    }
                    let name = self.text[start..self.pos].to_string();
                    self.push(Tok::Ident(name), line, col, start);
                }
                _ => {
                    let rest = &self.bytes[self.pos..];
                    let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(p.as_bytes())) else {
                        let ch = self.text[self.pos..].chars().next().unwrap_or('?');
                        return Err(self.error(
                            line,
                            col,
                            format!(
                                "found `{}`, expected a name, a number, a string, an operator or `#` (a comment)",
                                ch.escape_default()
                            ),
                        ));
                    };
                    for _ in 0..p.len() {
                        self.bump();
                    }
                    self.push(Tok::Punct(p), line, col, start);
                }
            }
        }
        let (line, col, start) = (self.line, self.col, self.pos);
        self.push(Tok::Newline, line, col, start);
        self.push(Tok::Eof, line, col, start);
        Ok(())
    }

    fn number(&mut self, line: u32, col: u32, start: usize) -> Result<(), ParseError> {
        let hex = self.peek() == Some(b'0') && matches!(self.peek_at(1), Some(b'x' | b'X'));
        if hex {
            self.bump();
            self.bump();
        }
        let digits_start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || c == b'_' || (hex && c.is_ascii_hexdigit()))
        {
            self.bump();
        }
        let digits: String = self.text[digits_start..self.pos]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let suffix_start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.bump();
        }
        let suffix = &self.text[suffix_start..self.pos];
        let tok = match number_value(hex, &digits, suffix) {
            Ok(value) => Tok::Int(value),
            Err(expected) => Tok::DigitWord(expected.to_string()),
        };
        self.push(tok, line, col, start);
        Ok(())
    }

    fn string(&mut self, line: u32, col: u32, start: usize) -> Result<(), ParseError> {
        self.bump();
        let mut bytes = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error(
                    self.line,
                    self.col,
                    format!("found end of file, expected `\"` to close the string opened at {line}:{col}"),
                ));
            };
            match c {
                b'"' => {
                    self.bump();
                    break;
                }
                b'\n' => {
                    return Err(self.error(
                        self.line,
                        self.col,
                        format!("found end of line, expected `\"` to close the string opened at {line}:{col}"),
                    ));
                }
                b'\\' => {
                    let (eline, ecol) = (self.line, self.col);
                    self.bump();
                    let escaped = self.peek();
                    let byte = match escaped {
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        Some(b'0') => 0,
                        Some(b'\\') => b'\\',
                        Some(b'"') => b'"',
                        Some(b'x') => {
                            self.bump();
                            let hi = self.peek().and_then(|c| (c as char).to_digit(16));
                            let lo = self.peek_at(1).and_then(|c| (c as char).to_digit(16));
                            match (hi, lo) {
                                (Some(hi), Some(lo)) => {
                                    self.bump();
                                    self.bump();
                                    bytes.push((hi * 16 + lo) as u8);
                                    continue;
                                }
                                _ => {
                                    return Err(self.error(
                                        eline,
                                        ecol,
                                        "found `\\x` without two hex digits, expected an escape such as `\\x41`".into(),
                                    ))
                                }
                            }
                        }
                        _ => {
                            let what = self.text[self.pos..]
                                .chars()
                                .next()
                                .map_or("end of file".to_string(), |c| {
                                    format!("`\\{}`", c.escape_default())
                                });
                            return Err(self.error(
                                eline,
                                ecol,
                                format!("found {what}, expected one of the escapes \\n \\t \\r \\0 \\\\ \\\" \\xNN"),
                            ));
                        }
                    };
                    self.bump();
                    bytes.push(byte);
                }
                _ => {
                    let ch_start = self.pos;
                    self.bump();
                    bytes.extend_from_slice(&self.bytes[ch_start..self.pos]);
                }
            }
        }
        self.push(Tok::Str(bytes), line, col, start);
        Ok(())
    }
}

/// The value of a number written as `digits` (hex or decimal, `_` removed) and a unit
/// `suffix`, or what a number must look like. Decimal numbers are at most `i64::MAX`
/// (`-9223372036854775808` is `-9223372036854775807 - 1`); a hex number is a 64-bit
/// pattern, so `0xffffffffffffffff` is -1.
fn number_value(hex: bool, digits: &str, suffix: &str) -> Result<i64, &'static str> {
    if digits.is_empty() {
        return Err("hex digits after `0x`");
    }
    let value = if hex {
        u64::from_str_radix(digits, 16).map(|v| v as i64).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    let Some(value) = value else {
        return Err(if hex {
            "a hex number that fits in 64 bits"
        } else {
            "a number that fits in 64 bits (at most 9223372036854775807)"
        });
    };
    if suffix.is_empty() {
        return Ok(value);
    }
    if hex {
        return Err("a hex number (no unit after a hex number)");
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == suffix) else {
        return Err("a number, or a duration with a unit: ns, us, ms or s (e.g. `5ms`)");
    };
    value
        .checked_mul(scale)
        .ok_or("a duration that fits in 64 bits of nanoseconds")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        lex("t.scn", text)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    fn err(text: &str) -> String {
        lex("t.scn", text).unwrap_err().to_string()
    }

    #[test]
    fn tokens_durations_and_comments() {
        assert_eq!(
            toks("ep = epoll_create(1) # make one\nsleep 2ms"),
            vec![
                Tok::Ident("ep".into()),
                Tok::Punct("="),
                Tok::Ident("epoll_create".into()),
                Tok::Punct("("),
                Tok::Int(1),
                Tok::Punct(")"),
                Tok::Newline,
                Tok::Ident("sleep".into()),
                Tok::Int(2_000_000),
                Tok::Newline,
                Tok::Eof,
            ]
        );
        assert_eq!(
            toks("0x10 1_000 3us 1s")[..4],
            [
                Tok::Int(16),
                Tok::Int(1000),
                Tok::Int(3000),
                Tok::Int(1_000_000_000)
            ]
        );
        assert_eq!(toks("a==b")[1], Tok::Punct("=="));
        assert_eq!(toks("0xffffffffffffffff")[0], Tok::Int(-1));
    }

    /// A word that starts with a digit is a name segment where a name may be, and says
    /// what a number must look like where a value is expected (the parser's errors).
    #[test]
    fn words_that_start_with_a_digit_are_not_numbers() {
        let word = |text: &str| match &toks(text)[0] {
            Tok::DigitWord(expected) => expected.clone(),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            word("5q"),
            "a number, or a duration with a unit: ns, us, ms or s (e.g. `5ms`)"
        );
        assert_eq!(word("2cpu"), word("5q"));
        assert_eq!(
            word("9223372036854775808"),
            "a number that fits in 64 bits (at most 9223372036854775807)"
        );
        assert_eq!(word("0x"), "hex digits after `0x`");
        assert_eq!(word("0x1ms"), "a hex number (no unit after a hex number)");
        assert_eq!(
            word("0x1_0000_0000_0000_0000"),
            "a hex number that fits in 64 bits"
        );
        assert_eq!(
            word("99999999999s"),
            "a duration that fits in 64 bits of nanoseconds"
        );
        assert_eq!(toks("9223372036854775807")[0], Tok::Int(i64::MAX));
        assert_eq!(toks("9223372036854775807ns")[0], Tok::Int(i64::MAX));
        assert_eq!(
            toks("check-2cpu")[..3],
            [
                Tok::Ident("check".into()),
                Tok::Punct("-"),
                Tok::DigitWord(word("2cpu"))
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_takes_no_column() {
        let tokens = lex("t.scn", "\u{feff}cpus 2").unwrap();
        assert_eq!(tokens[0].tok, Tok::Ident("cpus".into()));
        assert_eq!((tokens[0].line, tokens[0].col, tokens[0].start), (1, 1, 3));
        assert_eq!((tokens[1].line, tokens[1].col), (1, 6));
    }

    #[test]
    fn strings_with_escapes() {
        assert_eq!(toks(r#""a\n\x41\"""#)[0], Tok::Str(b"a\nA\"".to_vec()));
    }

    #[test]
    fn lexer_errors_name_place_found_and_expected() {
        assert_eq!(
            err("\n  \"abc\n"),
            "t.scn:2:7: found end of line, expected `\"` to close the string opened at 2:3"
        );
        assert_eq!(
            err("\"abc"),
            "t.scn:1:5: found end of file, expected `\"` to close the string opened at 1:1"
        );
        assert_eq!(
            err("a $ b"),
            "t.scn:1:3: found `$`, expected a name, a number, a string, an operator or `#` (a comment)"
        );
        assert_eq!(
            err(r#""\q""#),
            "t.scn:1:2: found `\\q`, expected one of the escapes \\n \\t \\r \\0 \\\\ \\\" \\xNN"
        );
        assert!(err(r#""\x4""#).contains("expected an escape such as `\\x41`"));
    }
}
