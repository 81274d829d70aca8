//! Conditions on earlier answers (`when`): comparisons joined with `and`,
//! `or`, `not` and parentheses.
//!
//! ```text
//! still_unemployed == false
//! end_reason in ['employment_1', 'employment_2'] and not social_insurance == true
//! working_time != 'vz'
//! ```
//!
//! A question not answered (or not asked) makes `==` and `in` false and `!=`
//! true. For a multiple-choice answer, `==` and `in` ask whether any chosen
//! value matches.

use super::answer::{Value, de_number};
use serde::{Deserialize, Serialize};

/// A literal in a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Bool(bool),
    Text(String),
    Number(f64),
}

impl Literal {
    pub fn describe(&self) -> String {
        match self {
            Literal::Bool(b) => b.to_string(),
            Literal::Text(t) => format!("'{t}'"),
            Literal::Number(n) => de_number(*n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    Equals(String, Literal),
    NotEquals(String, Literal),
    In(String, Vec<Literal>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Literal(Literal),
    Eq,
    Ne,
    In,
    And,
    Or,
    Not,
    Open,
    Close,
    OpenList,
    CloseList,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '[' => {
                out.push(Token::OpenList);
                i += 1;
            }
            ']' => {
                out.push(Token::CloseList);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                out.push(Token::Eq);
                i += 2;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Token::Ne);
                i += 2;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .ok_or("Eine Zeichenkette ist nicht geschlossen.")?;
                out.push(Token::Literal(Literal::Text(
                    chars[i + 1..i + 1 + end].iter().collect(),
                )));
                i += end + 2;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let raw: String = chars[start..i].iter().collect();
                let n = raw
                    .parse::<f64>()
                    .map_err(|_| format!("„{raw}“ ist keine Zahl."))?;
                out.push(Token::Literal(Literal::Number(n)));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    "in" => Token::In,
                    "true" => Token::Literal(Literal::Bool(true)),
                    "false" => Token::Literal(Literal::Bool(false)),
                    _ => Token::Ident(word),
                });
            }
            other => return Err(format!("Unerwartetes Zeichen „{other}“.")),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Condition::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, String> {
        match self.next() {
            Some(Token::Not) => Ok(Condition::Not(Box::new(self.unary()?))),
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("Eine Klammer „(“ wird nicht geschlossen.".into()),
                }
            }
            Some(Token::Ident(id)) => match self.next() {
                Some(Token::Eq) => Ok(Condition::Equals(id, self.literal()?)),
                Some(Token::Ne) => Ok(Condition::NotEquals(id, self.literal()?)),
                Some(Token::In) => {
                    if self.next() != Some(Token::OpenList) {
                        return Err("Nach „in“ folgt eine Liste in eckigen Klammern.".into());
                    }
                    let mut items = vec![self.literal()?];
                    loop {
                        match self.next() {
                            Some(Token::Comma) => items.push(self.literal()?),
                            Some(Token::CloseList) => break,
                            _ => {
                                return Err(
                                    "Die Liste nach „in“ wird nicht mit „]“ geschlossen.".into()
                                );
                            }
                        }
                    }
                    Ok(Condition::In(id, items))
                }
                _ => Err(format!("Nach „{id}“ folgt ==, != oder in.")),
            },
            Some(_) | None => Err("Erwartet wird eine Frage-ID, „not“ oder „(“.".into()),
        }
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Token::Literal(l)) => Ok(l),
            _ => Err("Erwartet wird ein Wert: 'Text', Zahl, true oder false.".into()),
        }
    }
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let mut parser = Parser {
            tokens: tokens(text)?,
            at: 0,
        };
        let condition = parser.or()?;
        if parser.at < parser.tokens.len() {
            return Err("Nach dem Ende der Bedingung folgt noch etwas.".into());
        }
        Ok(condition)
    }

    /// Every comparison: question id and the literals compared with.
    pub fn comparisons(&self) -> Vec<(&str, Vec<&Literal>)> {
        match self {
            Condition::Equals(id, l) | Condition::NotEquals(id, l) => vec![(id.as_str(), vec![l])],
            Condition::In(id, ls) => vec![(id.as_str(), ls.iter().collect())],
            Condition::And(a, b) | Condition::Or(a, b) => {
                let mut all = a.comparisons();
                all.extend(b.comparisons());
                all
            }
            Condition::Not(a) => a.comparisons(),
        }
    }

    /// Whether the condition holds for the answers given (`answer(id)`).
    pub fn holds(&self, answer: &dyn Fn(&str) -> Option<Value>) -> bool {
        match self {
            Condition::Equals(id, l) => answer(id).is_some_and(|v| matches(&v, l)),
            Condition::NotEquals(id, l) => !answer(id).is_some_and(|v| matches(&v, l)),
            Condition::In(id, ls) => answer(id).is_some_and(|v| ls.iter().any(|l| matches(&v, l))),
            Condition::And(a, b) => a.holds(answer) && b.holds(answer),
            Condition::Or(a, b) => a.holds(answer) || b.holds(answer),
            Condition::Not(a) => !a.holds(answer),
        }
    }
}

fn matches(value: &Value, literal: &Literal) -> bool {
    match (value, literal) {
        (Value::Bool(v), Literal::Bool(l)) => v == l,
        (Value::Number(v), Literal::Number(l)) => v == l,
        (Value::Choices(v), Literal::Text(l)) => v.iter().any(|c| c == l),
        (Value::Date(d), Literal::Text(l)) => crate::date::parse_de_date(l).is_ok_and(|x| x == *d),
        (v, Literal::Text(l)) => v.canonical() == *l,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn conditions_parse_and_hold() {
        let c = Condition::parse(
            "still_unemployed == false and (reason in ['a', \"b\"] or not hours == 20)",
        )
        .unwrap();
        let answers = |id: &str| match id {
            "still_unemployed" => Some(Value::Bool(false)),
            "reason" => Some(Value::Choice("c".into())),
            "hours" => Some(Value::Number(20.0)),
            _ => None,
        };
        assert!(!c.holds(&answers));
        let answers_b = |id: &str| match id {
            "reason" => Some(Value::Choice("b".into())),
            other => answers(other),
        };
        assert!(c.holds(&answers_b));
        assert_eq!(
            c.comparisons()
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
            vec!["still_unemployed", "reason", "hours"]
        );
        // Not answered: == false, != true.
        let none = |_: &str| None;
        assert!(!Condition::parse("x == 1").unwrap().holds(&none));
        assert!(Condition::parse("x != 1").unwrap().holds(&none));
        let multi = |_: &str| Some(Value::Choices(vec!["vz".into(), "ho".into()]));
        assert!(Condition::parse("x == 'ho'").unwrap().holds(&multi));
    }

    #[test]
    fn broken_conditions_say_what_is_wrong() {
        for (text, message) in [
            ("x ==", "Erwartet wird ein Wert"),
            ("x = 1", "Unerwartetes Zeichen „=“"),
            ("(x == 1", "nicht geschlossen"),
            ("x in 1", "eckigen Klammern"),
            ("x == 'a", "Zeichenkette"),
            ("x == 1 y", "folgt noch etwas"),
            ("and", "Frage-ID"),
        ] {
            let e = Condition::parse(text).unwrap_err();
            assert!(e.contains(message), "{text}: {e}");
        }
    }
}
