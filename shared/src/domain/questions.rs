//! A campaign's own application questions, and the rules an answer must meet. The landing page
//! renders them as plain form fields (script-free), so a question is no more than a kind, a label,
//! the choices of a choice question, and whether it must be answered.

use serde::{Deserialize, Serialize};

/// Questions a campaign may ask, choices a question may offer, and their lengths.
pub const MAX_QUESTIONS: usize = 10;
pub const MAX_CHOICES: usize = 20;
pub const MAX_LABEL: usize = 200;
pub const MAX_CHOICE: usize = 100;
pub const MAX_SHORT_ANSWER: usize = 200;
pub const MAX_LONG_ANSWER: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    ShortText,
    LongText,
    Choice,
    Checkbox,
}

impl QuestionKind {
    pub const ALL: [QuestionKind; 4] = [Self::ShortText, Self::LongText, Self::Choice, Self::Checkbox];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ShortText => "short_text",
            Self::LongText => "long_text",
            Self::Choice => "choice",
            Self::Checkbox => "checkbox",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::ShortText => "Short text",
            Self::LongText => "Long text",
            Self::Choice => "Choice (one of a list)",
            Self::Checkbox => "Checkbox (yes or no)",
        }
    }
}

/// A question as the campaign asks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: i64,
    pub kind: QuestionKind,
    pub label: String,
    /// The choices of a choice question, in order; empty otherwise.
    pub choices: Vec<String>,
    pub required: bool,
}

impl Question {
    /// The form field the landing page gives it.
    pub fn field(&self) -> String {
        format!("q{}", self.id)
    }

    /// What an applicant's raw value (None: the field wasn't sent) comes to: the answer to keep
    /// (None for a blank optional one), or why it can't be taken.
    pub fn answer(&self, raw: Option<&str>) -> Result<Option<String>, String> {
        let value = raw.map(|v| v.trim()).unwrap_or_default();
        if value.contains('\0') {
            return Err("Remove the invisible characters from your answer.".to_owned());
        }
        match self.kind {
            QuestionKind::Checkbox => match (value.is_empty(), self.required) {
                (true, true) => Err("Tick this box to apply.".to_owned()),
                (true, false) => Ok(Some("No".to_owned())),
                (false, _) => Ok(Some("Yes".to_owned())),
            },
            _ if value.is_empty() => {
                if self.required {
                    Err("Please answer this question.".to_owned())
                } else {
                    Ok(None)
                }
            }
            QuestionKind::Choice => match self.choices.iter().find(|c| c.as_str() == value) {
                Some(choice) => Ok(Some(choice.clone())),
                None => Err("Pick one of the choices.".to_owned()),
            },
            QuestionKind::ShortText if value.chars().count() > MAX_SHORT_ANSWER => {
                Err(format!("Keep the answer under {MAX_SHORT_ANSWER} characters."))
            }
            QuestionKind::LongText if value.chars().count() > MAX_LONG_ANSWER => {
                Err(format!("Keep the answer under {MAX_LONG_ANSWER} characters."))
            }
            _ => Ok(Some(value.to_owned())),
        }
    }
}

/// A question as typed in the campaign editor; `id` is set for a question that exists already.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuestionForm {
    pub id: Option<i64>,
    pub kind: String,
    pub label: String,
    /// One choice a line (choice questions only).
    pub choices: String,
    pub required: bool,
}

/// A question that passed the editor's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuestion {
    pub id: Option<i64>,
    pub kind: QuestionKind,
    pub label: String,
    pub choices: Vec<String>,
    pub required: bool,
}

impl QuestionForm {
    pub fn parse(&self) -> Result<NewQuestion, String> {
        let kind = QuestionKind::parse(&self.kind).ok_or_else(|| "Choose what kind of question this is.".to_owned())?;
        let label = self.label.trim();
        if label.is_empty() {
            return Err("Write the question.".to_owned());
        }
        if label.chars().count() > MAX_LABEL || label.contains('\0') {
            return Err(format!("Keep the question under {MAX_LABEL} characters."));
        }
        let mut choices: Vec<String> = Vec::new();
        if kind == QuestionKind::Choice {
            for line in self.choices.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if line.chars().count() > MAX_CHOICE || line.contains('\0') {
                    return Err(format!("Keep each choice under {MAX_CHOICE} characters."));
                }
                if !choices.iter().any(|c| c == line) {
                    choices.push(line.to_owned());
                }
            }
            if choices.len() < 2 {
                return Err("A choice question needs at least two choices, one a line.".to_owned());
            }
            if choices.len() > MAX_CHOICES {
                return Err(format!("Offer at most {MAX_CHOICES} choices."));
            }
        }
        Ok(NewQuestion { id: self.id, kind, label: label.to_owned(), choices, required: self.required })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(kind: QuestionKind, required: bool) -> Question {
        Question {
            id: 7,
            kind,
            label: "Where do you post?".into(),
            choices: vec!["Instagram".into(), "TikTok".into()],
            required,
        }
    }

    #[test]
    fn answers_are_checked_by_kind() {
        let choice = question(QuestionKind::Choice, true);
        assert_eq!(choice.answer(Some(" TikTok ")), Ok(Some("TikTok".into())));
        assert_eq!(choice.answer(Some("MySpace")), Err("Pick one of the choices.".into()));
        assert_eq!(choice.answer(None), Err("Please answer this question.".into()));
        assert_eq!(question(QuestionKind::ShortText, false).answer(Some("  ")), Ok(None));
        assert!(question(QuestionKind::ShortText, false).answer(Some(&"x".repeat(201))).is_err());
        assert_eq!(
            question(QuestionKind::LongText, true).answer(Some("Blog\nand more")),
            Ok(Some("Blog\nand more".into()))
        );
        assert_eq!(question(QuestionKind::Checkbox, false).answer(None), Ok(Some("No".into())));
        assert_eq!(question(QuestionKind::Checkbox, true).answer(Some("on")), Ok(Some("Yes".into())));
        assert!(question(QuestionKind::Checkbox, true).answer(None).is_err());
        assert_eq!(choice.field(), "q7");
    }

    #[test]
    fn the_editor_refuses_what_the_page_could_not_ask() {
        let form = |kind: &str, label: &str, choices: &str| QuestionForm {
            id: None,
            kind: kind.into(),
            label: label.into(),
            choices: choices.into(),
            required: false,
        };
        assert!(form("short_text", "Your audience?", "").parse().is_ok());
        assert_eq!(form("essay", "Why?", "").parse(), Err("Choose what kind of question this is.".into()));
        assert_eq!(form("long_text", " ", "").parse(), Err("Write the question.".into()));
        assert!(form("choice", "Platform", "Instagram").parse().is_err(), "one choice is no choice");
        let parsed = form("choice", "Platform", "Instagram\n\nTikTok\nInstagram\n").parse().expect("two choices");
        assert_eq!(parsed.choices, ["Instagram", "TikTok"]);
    }
}
