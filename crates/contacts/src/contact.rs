//! Contacts as the source guide syncs them, and their validation before any
//! call: every problem at once, each with its field path, so that invalid
//! input is never sent (and never earns a 400).

use core::fmt;

use serde::{Deserialize, Serialize};

/// A contact, in the API's JSON shape (`firstName`, `phoneNumbers`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Required, not blank.
    pub first_name: String,
    /// Required, not blank.
    pub last_name: String,
    /// Optional; when present, `local@domain.tld` shaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Each in E.164 with a known type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<Phone>,
    /// The source system's id (the guide's Salesforce id): what makes a
    /// create safe to retry, and what a conflict is searched by.
    pub external_id: String,
}

/// A phone number and its type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// `^\+?[1-9]\d{1,14}$` (E.164).
    pub number: String,
    /// `WORK`, `MOBILE`, `HOME` or `OTHER`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One thing wrong with a contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Where: `firstName`, `phoneNumbers[1].type`, ...
    pub field: String,
    /// What.
    pub message: &'static str,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

const PHONE_TYPES: [&str; 4] = ["WORK", "MOBILE", "HOME", "OTHER"];

impl Contact {
    /// Every problem with the contact, in field order; empty when valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut add = |field: String, message| problems.push(Problem { field, message });
        if self.first_name.trim().is_empty() {
            add("firstName".into(), "is required");
        }
        if self.last_name.trim().is_empty() {
            add("lastName".into(), "is required");
        }
        if let Some(email) = &self.email {
            if !is_email(email) {
                add("email".into(), "format is invalid");
            }
        }
        for (i, phone) in self.phone_numbers.iter().enumerate() {
            if !is_e164(&phone.number) {
                add(format!("phoneNumbers[{i}].number"), "is not E.164 format");
            }
            if !PHONE_TYPES.contains(&phone.kind.as_str()) {
                add(
                    format!("phoneNumbers[{i}].type"),
                    "must be WORK, MOBILE, HOME, or OTHER",
                );
            }
        }
        if self.external_id.trim().is_empty() {
            add(
                "externalId".into(),
                "is required (it keeps retries from duplicating)",
            );
        }
        problems
    }
}

/// The guide's `^[^\s@]+@[^\s@]+\.[^\s@]+$`: one `@`, no whitespace, and a
/// dot in the domain with something on both sides.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let plain =
        |part: &str| !part.is_empty() && !part.chars().any(|c| c == '@' || c.is_whitespace());
    // The pattern's last `.` may be any dot with non-empty text around it.
    plain(local)
        && plain(domain)
        && domain
            .char_indices()
            .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
}

/// `^\+?[1-9]\d{1,14}$`: an optional plus, then 2 to 15 digits not starting
/// with 0.
pub fn is_e164(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_at_once_with_its_field_path() {
        let c = Contact {
            first_name: "  ".into(),
            last_name: String::new(),
            email: Some("ada at example.com".into()),
            phone_numbers: vec![
                Phone {
                    number: "+14155550123".into(),
                    kind: "WORK".into(),
                },
                Phone {
                    number: "0123".into(),
                    kind: "PAGER".into(),
                },
            ],
            external_id: String::new(),
        };
        let got: Vec<String> = c.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "firstName is required",
                "lastName is required",
                "email format is invalid",
                "phoneNumbers[1].number is not E.164 format",
                "phoneNumbers[1].type must be WORK, MOBILE, HOME, or OTHER",
                "externalId is required (it keeps retries from duplicating)",
            ]
        );
        let fine = Contact {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: None,
            phone_numbers: vec![],
            external_id: "003A1".into(),
        };
        assert!(fine.problems().is_empty());
        // The API's JSON shape.
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            json.contains("\"firstName\"")
                && json.contains("\"phoneNumbers\"")
                && json.contains("\"type\"")
        );
    }

    #[test]
    fn email_shapes() {
        let rows = [
            ("a@b.co", true),
            ("first.last+tag@sub.example.org", true),
            ("a@b.c.d", true),
            ("a@b", false),
            ("a@.b", false),
            ("a@b.", false),
            ("@b.co", false),
            ("a@@b.co", false),
            ("a b@c.de", false),
            ("a@b .co", false),
            ("", false),
            ("a@b..c", true),
        ];
        for (s, ok) in rows {
            assert_eq!(is_email(s), ok, "{s:?}");
        }
    }

    #[test]
    fn e164_shapes() {
        let rows = [
            ("+14155550123", true),
            ("14155550123", true),
            ("+12", true),
            ("+1", false),
            ("+0123456", false),
            ("+123456789012345", true),
            ("+1234567890123456", false),
            ("+1 415 555", false),
            ("+1-415", false),
            ("", false),
            ("+", false),
            ("++12", false),
            ("+١٢٣", false),
        ];
        for (s, ok) in rows {
            assert_eq!(is_e164(s), ok, "{s:?}");
        }
    }
}
