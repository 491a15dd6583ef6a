//! `docs/wit-reference.md` is generated from the doc comments of `wit/plugin/*.wit`: this test
//! regenerates it and fails when the committed copy differs. After changing the contract, run
//! `LOCKGATE_BLESS=1 cargo test -p lockgate --test wit_reference` and commit the result.

use std::fmt::Write;
use std::path::Path;

const FILES: [&str; 4] = [
    "types.wit",
    "host.wit",
    "resource-type.wit",
    "test-step.wit",
];

/// Markdown for one `.wit` file: interfaces and worlds as sections, each type and function
/// with its signature and its `///` documentation, record fields and cases as lists.
fn render(file: &str, text: &str, out: &mut String) {
    let _ = writeln!(out, "## `{file}`\n");
    let mut doc: Vec<String> = Vec::new();
    let mut in_block: Option<String> = None; // record / variant / enum / flags being listed
    let mut lines = text.lines().peekable();
    while let Some(raw) = lines.next() {
        let line = raw.trim();
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.strip_prefix(' ').unwrap_or(d).to_owned());
            continue;
        }
        if line.is_empty() || line.starts_with("//") || line.starts_with("package ") {
            continue;
        }
        let doc_text = std::mem::take(&mut doc).join("\n");
        let doc_inline = doc_text.replace('\n', " ");
        if line == "}" {
            if in_block.take().is_some() {
                out.push('\n');
            }
            continue;
        }
        if in_block.is_some() {
            let member = line.trim_end_matches(',');
            let _ = writeln!(out, "- `{member}`{}", dash(&doc_inline));
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["interface", name, ..] | ["world", name, ..] => {
                let _ = writeln!(out, "### {} `{name}`\n", words[0]);
                para(out, &doc_text);
            }
            [kind @ ("record" | "variant" | "enum" | "flags"), name, ..] => {
                let _ = writeln!(out, "#### {kind} `{name}`\n");
                para(out, &doc_text);
                in_block = Some((*name).to_owned());
            }
            ["type", name, ..] => {
                let _ = writeln!(out, "#### type `{name}`\n");
                let _ = writeln!(out, "```wit\n{line}\n```\n");
                para(out, &doc_text);
            }
            ["use", ..] => {}
            ["import" | "export", ..] => {
                let _ = writeln!(
                    out,
                    "- `{}`{}",
                    line.trim_end_matches(';'),
                    dash(&doc_inline)
                );
                if lines.peek().is_some_and(|l| l.trim() == "}") {
                    out.push('\n');
                }
            }
            [name, ..] if name.ends_with(':') => {
                // A function, possibly spread over several lines.
                let mut sig = line.to_owned();
                while !sig.ends_with(';') {
                    match lines.next() {
                        Some(next) => {
                            sig.push(' ');
                            sig.push_str(next.trim());
                        }
                        None => break,
                    }
                }
                let _ = writeln!(out, "#### `{}`\n", name.trim_end_matches(':'));
                let _ = writeln!(out, "```wit\n{sig}\n```\n");
                para(out, &doc_text);
            }
            _ => {}
        }
    }
}

fn dash(doc: &str) -> String {
    if doc.is_empty() {
        String::new()
    } else {
        format!(" — {doc}")
    }
}

fn para(out: &mut String, doc: &str) {
    if !doc.is_empty() {
        let _ = writeln!(out, "{doc}\n");
    }
}

fn generate(root: &Path) -> String {
    let mut out = String::from(
        "# WIT reference: `lockgate:plugin@0.1.0`\n\n\
         Generated from the doc comments of [`wit/plugin/`](../wit/plugin) by\n\
         `engine/tests/wit_reference.rs`; do not edit by hand. A plugin is a WebAssembly\n\
         component implementing the world `resource-type` or `test-step`; both import `host`.\n\n",
    );
    for file in FILES {
        let text = std::fs::read_to_string(root.join("wit/plugin").join(file)).unwrap();
        render(file, &text, &mut out);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[test]
fn wit_reference_is_up_to_date() {
    let root = &Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let generated = generate(root);
    for expected in [
        "#### `check`",
        "#### record `description`",
        "### world `test-step`",
    ] {
        assert!(
            generated.contains(expected),
            "{expected} missing:\n{generated}"
        );
    }
    let path = root.join("docs/wit-reference.md");
    if std::env::var_os("LOCKGATE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with wit/plugin: run `LOCKGATE_BLESS=1 cargo test -p lockgate --test wit_reference`",
        path.display()
    );
}
