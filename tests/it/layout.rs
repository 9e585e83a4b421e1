//! The house's layout as a test: the module graph of `src/` (one node per
//! file) has no cycle, and no module imports from a layer above its own.
//!
//! Print the graph (one `module -> modules it uses` line each):
//! `KINTSUGI_PRINT_GRAPH=1 cargo test --test it layout -- --nocapture`
//! (add `KINTSUGI_SRC_DIR=/other/checkout/src` to read another version).
//!
//! An edge is any path the code of a file names (tests left out): a
//! `crate::…` or `super::…` path, or a name a `use` line or a `mod`
//! declaration brought in, resolved to the deepest module it reaches.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up: a module may use its own layer
/// and those below it, never one above. Modules of one layer do not use
/// each other in a cycle (the cycle test holds them to that).
const LAYERS: &[&[&str]] = &[
    // Plain values and rules: no I/O, no framework.
    &["domain", "i18n", "clock", "passwords", "html", "encoded"],
    // The site's settings and key, and the content read from files.
    &["config", "keys", "content", "assets"],
    // Storage, mail transport, metrics and logs.
    &["db", "mail", "metrics", "telemetry", "error"],
    // What is rendered (templates) and the work around storage.
    &["pages", "views", "emails", "notify", "backup", "import"],
    // HTTP.
    &["web"],
    // Wiring it all together.
    &["startup"],
];

/// This crate's `src`, or another checkout's (`KINTSUGI_SRC_DIR`, to print
/// an older graph with this reader).
fn src_dir() -> PathBuf {
    std::env::var_os("KINTSUGI_SRC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// Every module of the crate (`a::b`) and its file.
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            let mut p = prefix.to_vec();
            p.push(name);
            modules(&path, &p, out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            if prefix.is_empty() && (stem == "main" || stem == "build") {
                continue;
            }
            let mut p = prefix.to_vec();
            if stem != "mod" && stem != "lib" {
                p.push(stem.to_string());
            }
            out.insert(p.join("::"), path);
        }
    }
}

/// The file's code without comments, string contents and its tests.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if text[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if text[i..].starts_with("/*") {
            i += text[i..].find("*/").map_or(bytes.len() - i, |e| e + 2);
        } else if bytes[i] == b'"' {
            // Skip a plain string (raw strings never hold module paths here).
            out.push_str("\"\"");
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if bytes[i] == b'\'' && i + 2 < bytes.len() && bytes[i + 2] == b'\'' {
            // A char literal such as '"'.
            i += 3;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths a `use` tree names: `a::{b, c::{d}}` gives `a::b`, `a::c::d`.
fn use_paths(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    let head_len = tree
        .find(|c: char| !(is_ident(c) || c == ':'))
        .unwrap_or(tree.len());
    let mut path = prefix.to_vec();
    path.extend(
        tree[..head_len]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from),
    );
    let rest = tree[head_len..].trim();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut item = String::new();
        for c in inner.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    use_paths(&item, &path, out);
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        use_paths(&item, &path, out);
    } else if !path.is_empty() {
        out.push(path);
    }
}

/// The module graph: each module and the modules its code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = BTreeMap::new();
    modules(&src_dir(), &[], &mut files);
    let known: BTreeSet<String> = files.keys().cloned().collect();
    let resolve = |parts: &[String]| -> Option<String> {
        (0..=parts.len())
            .rev()
            .map(|i| parts[..i].join("::"))
            .find(|m| known.contains(m))
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &files {
        let code = code_of(&std::fs::read_to_string(file).expect("a source file"));
        let me: Vec<String> = module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        // A folder's module: `mod.rs`, `lib.rs`, or `name.rs` beside `name/`.
        let is_dir = file.ends_with("mod.rs")
            || file.ends_with("lib.rs")
            || file.with_extension("").is_dir();
        // `self` is this module, each `super` one step up.
        let absolute = |path: &str| -> Vec<String> {
            let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
            let mut base: Vec<String> = Vec::new();
            if segments.peek() == Some(&"crate") {
                segments.next();
            } else {
                base = me.clone();
                while let Some(s) = segments.peek().copied() {
                    match s {
                        "super" => {
                            base.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    segments.next();
                }
            }
            base.extend(segments.map(String::from));
            base
        };
        // Names in scope that stand for a module: the child modules a
        // folder's `mod.rs` declares, and modules brought in by `use`.
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if is_dir {
            for m in &known {
                let parts: Vec<String> = m.split("::").map(String::from).collect();
                if parts.len() == me.len() + 1 && parts.starts_with(&me) {
                    aliases.insert(parts[me.len()].clone(), parts);
                }
            }
        }
        let mut targets: Vec<Vec<String>> = Vec::new();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("use ") {
            let before = rest[..at].chars().last();
            rest = &rest[at + 4..];
            if before.is_some_and(is_ident) {
                continue;
            }
            let end = rest.find(';').unwrap_or(rest.len());
            let tree = &rest[..end];
            let first = tree.trim_start().split("::").next().unwrap_or("");
            if !matches!(first, "crate" | "super" | "self") && !aliases.contains_key(first) {
                continue;
            }
            let mut paths = Vec::new();
            use_paths(tree, &[], &mut paths);
            for path in paths {
                let joined = path.join("::");
                let full = match path.first().map(String::as_str) {
                    Some("crate" | "super" | "self") => absolute(&joined),
                    Some(alias) => {
                        let mut full = aliases[alias].clone();
                        full.extend(path[1..].iter().cloned());
                        full
                    }
                    None => continue,
                };
                let name = full.last().cloned().unwrap_or_default();
                if known.contains(&full.join("::")) {
                    aliases.insert(name, full.clone());
                }
                targets.push(full);
            }
        }
        // Every path written out in the code: `crate::…`, `super::…`, or
        // one that starts with a module name in scope.
        let chars: Vec<char> = code.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !is_ident(chars[i]) || (i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < chars.len() && (is_ident(chars[j]) || chars[j] == ':') {
                j += 1;
            }
            let path: String = chars[i..j].iter().collect();
            i = j;
            if !path.contains("::") {
                continue;
            }
            let first = path.split("::").next().unwrap_or("");
            let full = match first {
                "crate" | "super" | "self" => absolute(&path),
                alias if aliases.contains_key(alias) => {
                    let mut full = aliases[alias].clone();
                    full.extend(
                        path.split("::")
                            .skip(1)
                            .filter(|s| !s.is_empty())
                            .map(String::from),
                    );
                    full
                }
                _ => continue,
            };
            targets.push(full);
        }
        let entry = edges.entry(module.clone()).or_default();
        for target in targets {
            if let Some(t) = resolve(&target) {
                if &t != module && !t.is_empty() {
                    entry.insert(t);
                }
            }
        }
    }
    edges
}

/// Strongly connected groups of more than one module (the cycles).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Two modules are in one cycle when each reaches the other.
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for n in edges.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        edges.keys().map(|m| (m, reach(m))).collect();
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut placed = BTreeSet::new();
    for m in edges.keys() {
        if placed.contains(m) || !reached[m].contains(m) {
            continue;
        }
        let group: Vec<String> = reached[m]
            .iter()
            .filter(|n| reached.get(n).is_some_and(|r| r.contains(m)))
            .cloned()
            .collect();
        placed.extend(group.iter().cloned());
        groups.push(group);
    }
    groups
}

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or("");
    LAYERS.iter().position(|layer| layer.contains(&top))
}

fn printed(edges: &BTreeMap<String, BTreeSet<String>>) -> String {
    edges
        .iter()
        .filter(|(_, to)| !to.is_empty())
        .map(|(from, to)| {
            let from = if from.is_empty() { "crate" } else { from };
            format!(
                "{from} -> {}\n",
                to.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect()
}

#[test]
fn the_module_graph_has_no_cycle() {
    let edges = graph();
    if std::env::var_os("KINTSUGI_PRINT_GRAPH").is_some() {
        print!("{}", printed(&edges));
    }
    let cycles = cycles(&edges);
    assert!(
        cycles.is_empty(),
        "modules that use each other in a cycle:\n{}",
        cycles
            .iter()
            .map(|c| format!("  {}\n", c.join(" ")))
            .collect::<String>()
    );
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let edges = graph();
    let mut wrong = Vec::new();
    for (from, to) in &edges {
        if from.is_empty() {
            continue;
        }
        let Some(mine) = layer_of(from) else {
            wrong.push(format!("{from} is in no layer (add it to LAYERS)"));
            continue;
        };
        for t in to {
            if let Some(theirs) = layer_of(t) {
                if theirs > mine {
                    wrong.push(format!("{from} (layer {mine}) uses {t} (layer {theirs})"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_graph_reader_sees_the_paths_it_should() {
    // The reader itself, on this crate: the web layer uses the database.
    let edges = graph();
    assert!(edges["web::comments"].iter().any(|m| m.starts_with("db")));
    assert!(edges["db::comments"].contains("db::schema"));
}
