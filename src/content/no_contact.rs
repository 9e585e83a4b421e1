//! `content/no-contact.md`: the coach's words for the no-contact counter
//! (`/no-contact`): an introduction, a line for each milestone and the
//! steps for riding out the urge to text them. Optional: without the file
//! the counter is not offered.
//!
//! The body is Markdown cut into sections by its `##` headings, each named
//! by an id at the end of the heading: `{#day-7}`, `{#day-14}`,
//! `{#day-30}`, `{#day-60}`, `{#day-90}` and `{#urge}`, every one exactly
//! once, in any order; what comes before the first is the introduction.
//! Every problem is reported at its line, like other content.
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ContentError;
use super::front_matter;
use super::markdown::{self, ContentWords};
use crate::domain::no_contact::MILESTONES;

/// The file's name in the content folder.
pub const FILE: &str = "no-contact.md";

/// The id of the urge section.
const URGE: &str = "urge";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoContactFrontMatter {
    title: String,
    summary: Option<String>,
    /// Articles with one of these tags link to the counter.
    #[serde(default = "default_tags")]
    link_from_tags: Vec<String>,
}

fn default_tags() -> Vec<String> {
    vec!["no contact".into()]
}

/// The counter's words, rendered.
#[derive(Debug)]
pub struct NoContactGuide {
    pub title: String,
    pub summary: String,
    /// Trusted HTML: the coach's introduction.
    pub intro_html: String,
    /// One per day of [`MILESTONES`], in that order.
    pub milestones: Vec<Milestone>,
    /// The heading of the urge section: the words of its button.
    pub urge_heading: String,
    /// Trusted HTML: the steps for riding out the urge.
    pub urge_html: String,
    /// Tag slugs whose articles link to the counter.
    pub tag_slugs: Vec<String>,
    pub source: PathBuf,
}

/// The coach's words for one milestone.
#[derive(Debug)]
pub struct Milestone {
    pub day: u32,
    pub heading: String,
    /// Trusted HTML.
    pub html: String,
}

impl NoContactGuide {
    /// Whether an article with these tag slugs links to the counter.
    pub fn linked_from<'a>(&self, mut tags: impl Iterator<Item = &'a str>) -> bool {
        tags.any(|t| self.tag_slugs.iter().any(|s| s == t))
    }
}

/// One `##` section as found in the body.
struct Section {
    id: String,
    heading: String,
    line: usize,
    body: String,
    body_first_line: usize,
}

fn section_id(day: u32) -> String {
    format!("day-{day}")
}

/// Reads `content/no-contact.md` when it is there: `None` when it is not
/// (or cannot be read; then the problem is in `errors` with the others).
pub fn load(
    content_dir: &Path,
    resolve: &dyn Fn(&str) -> Option<String>,
    words: &ContentWords,
    errors: &mut Vec<ContentError>,
) -> Option<NoContactGuide> {
    let path = content_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            errors.push(ContentError {
                file: path,
                line: 0,
                message: format!("cannot read the file as UTF-8 text: {e}"),
            });
            return None;
        }
    };
    match parse(&path, &text, resolve, words) {
        Ok(guide) => Some(guide),
        Err(problems) => {
            errors.extend(problems);
            None
        }
    }
}

/// Parses and renders the file's text; every problem found, each at its
/// line.
pub fn parse(
    path: &Path,
    text: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
    words: &ContentWords,
) -> Result<NoContactGuide, Vec<ContentError>> {
    let problem = |line: usize, message: String| ContentError {
        file: path.to_path_buf(),
        line,
        message,
    };
    let (split, fm) = front_matter::split(text)
        .and_then(|split| {
            front_matter::parse::<NoContactFrontMatter>(split.toml).map(|fm| (split, fm))
        })
        .map_err(|e| vec![problem(e.line, e.message)])?;
    let mut problems = Vec::new();
    if fm.title.trim().is_empty() {
        problems.push(problem(1, "the title is empty".into()));
    }
    let (intro, sections, found) = sections(split.body, split.body_first_line);
    problems.extend(found.into_iter().map(|(line, m)| problem(line, m)));
    let known: Vec<String> = MILESTONES
        .iter()
        .map(|d| section_id(*d))
        .chain([URGE.to_string()])
        .collect();
    for (i, s) in sections.iter().enumerate() {
        if !known.contains(&s.id) {
            problems.push(problem(
                s.line,
                format!(
                    "unknown section `{{#{}}}`: the sections are {}",
                    s.id,
                    known
                        .iter()
                        .map(|k| format!("`{{#{k}}}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        } else if sections[..i].iter().any(|o| o.id == s.id) {
            problems.push(problem(
                s.line,
                format!("the section `{{#{}}}` is here a second time", s.id),
            ));
        }
        if s.heading.is_empty() {
            problems.push(problem(s.line, "the heading has no words".into()));
        }
        if s.body.trim().is_empty() {
            problems.push(problem(
                s.line,
                format!("the section `{{#{}}}` has no text under its heading", s.id),
            ));
        }
    }
    for id in &known {
        if !sections.iter().any(|s| &s.id == id) {
            problems.push(problem(
                split.body_first_line.saturating_sub(1).max(1),
                format!("the section `## ... {{#{id}}}` is missing"),
            ));
        }
    }
    let mut render = |body: &str, first_line: usize| {
        let rendered = markdown::render(body, first_line, resolve, words);
        problems.extend(
            rendered
                .errors
                .into_iter()
                .map(|e| problem(e.line, e.message)),
        );
        rendered.html
    };
    let intro_html = render(intro, split.body_first_line);
    let mut rendered: Vec<(String, String, String)> = sections
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                markdown::smart_text(&s.heading),
                render(&s.body, s.body_first_line),
            )
        })
        .collect();
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        return Err(problems);
    }
    let mut take = |id: &str| {
        rendered
            .iter()
            .position(|(i, _, _)| i == id)
            .map(|at| rendered.swap_remove(at))
            .map(|(_, heading, html)| (heading, html))
            .unwrap_or_default()
    };
    let milestones = MILESTONES
        .iter()
        .map(|day| {
            let (heading, html) = take(&section_id(*day));
            Milestone {
                day: *day,
                heading,
                html,
            }
        })
        .collect();
    let (urge_heading, urge_html) = take(URGE);
    Ok(NoContactGuide {
        title: markdown::smart_text(&fm.title),
        summary: fm.summary.map(|s| s.trim().to_string()).unwrap_or_default(),
        intro_html,
        milestones,
        urge_heading,
        urge_html,
        tag_slugs: fm
            .link_from_tags
            .iter()
            .map(|t| markdown::slugify(t))
            .filter(|s| !s.is_empty())
            .collect(),
        source: path.to_path_buf(),
    })
}

/// Cuts the body at its `##` headings (outside fenced code): the
/// introduction, the sections, and the problems of headings without an id.
fn sections(body: &str, first_line: usize) -> (&str, Vec<Section>, Vec<(usize, String)>) {
    let mut intro_end = body.len();
    let mut sections: Vec<Section> = Vec::new();
    let mut problems = Vec::new();
    let mut fence: Option<&str> = None;
    let mut offset = 0;
    for (i, line) in body.split_inclusive('\n').enumerate() {
        let at = first_line + i;
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                fence = match fence {
                    Some(open) if open == marker => None,
                    None => Some(marker),
                    other => other,
                };
            }
        }
        let heading = fence.is_none() && line.starts_with("## ") && !line.starts_with("### ");
        if !heading {
            if let Some(current) = sections.last_mut() {
                current.body.push_str(line);
            }
            continue;
        }
        if sections.is_empty() {
            intro_end = start;
        }
        let text = line[3..].trim();
        let (heading, id) = match text.rsplit_once("{#") {
            Some((words, id)) if id.ends_with('}') => (
                words.trim().to_string(),
                id.trim_end_matches('}').trim().to_string(),
            ),
            _ => {
                problems.push((
                    at,
                    "this heading needs its section's id at its end, one of `{#day-7}`, `{#day-14}`, `{#day-30}`, `{#day-60}`, `{#day-90}` or `{#urge}`".to_string(),
                ));
                (text.to_string(), String::new())
            }
        };
        sections.push(Section {
            id,
            heading,
            line: at,
            body: String::new(),
            body_first_line: at + 1,
        });
    }
    // A heading without an id was reported; its section is not checked again.
    sections.retain(|s| !s.id.is_empty());
    (&body[..intro_end], sections, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "+++\ntitle = \"Counter\"\n+++\nIntro.\n\n## A week {#day-7}\nSeven.\n\n## Two {#day-14}\nFourteen.\n\n## Month {#day-30}\nThirty.\n\n## Sixty {#day-60}\nSixty.\n\n## Ninety {#day-90}\nNinety.\n\n## I want to text them {#urge}\n1. Breathe.\n\n```\n## not a heading\n```\n";

    fn parsed(text: &str) -> Result<NoContactGuide, Vec<ContentError>> {
        parse(
            Path::new("content/no-contact.md"),
            text,
            &|_| None,
            &ContentWords::default(),
        )
    }

    #[test]
    fn sections_by_id_in_milestone_order() {
        let guide = parsed(GOOD).unwrap();
        assert_eq!(guide.intro_html.trim(), "<p>Intro.</p>");
        let days: Vec<u32> = guide.milestones.iter().map(|m| m.day).collect();
        assert_eq!(days, MILESTONES);
        assert_eq!(guide.milestones[0].heading, "A week");
        assert!(guide.milestones[4].html.contains("Ninety"));
        assert_eq!(guide.urge_heading, "I want to text them");
        assert!(guide.urge_html.contains("<li>Breathe.</li>"));
        assert!(guide.urge_html.contains("## not a heading"));
        assert_eq!(guide.tag_slugs, vec!["no-contact"]);
    }

    #[test]
    fn problems_name_their_line() {
        let text = GOOD
            .replace("## Two {#day-14}", "## Two {#day-15}")
            .replace("## Sixty {#day-60}", "## Sixty")
            .replace("[Ninety]", "")
            .replace("Ninety.\n", "[gone](@/articles/nowhere.md)\n");
        let problems = parsed(&text).unwrap_err();
        let lines: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 9 && m.contains("unknown section `{#day-15}`")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 15 && m.contains("needs its section's id")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|(_, m)| m.contains("`## ... {#day-14}` is missing")),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|(l, _)| *l == 19),
            "the broken link at line 19: {lines:?}"
        );
        assert!(problems[0]
            .to_string()
            .starts_with("content/no-contact.md:"));
    }
}
