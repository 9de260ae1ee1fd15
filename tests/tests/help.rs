//! `--help` of every binary and command: every option and every possible value has a
//! description, every command shows `-v` and `-q`, and the options named alike mean
//! the same thing.

use nst_tests::*;

/// Each (binary, subcommand) pair whose help is checked.
const HELPS: &[(&str, &[&str])] = &[
    ("nst", &[]),
    ("nst", &["stylize"]),
    ("nst", &["video"]),
    ("nst", &["live"]),
    ("nst", &["sheet"]),
    ("nst", &["styles"]),
    ("nst", &["devices"]),
    ("nst-train", &[]),
    ("nst-train", &["export"]),
    ("nst-train", &["init"]),
    ("nst-classic", &[]),
    ("nst-eval", &[]),
];

/// The options (`--name`) of a long help text whose next non-empty line is not an
/// indented description; and the possible values listed without one.
fn undescribed(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let is_option = (indent == 2 || indent == 6) && t.starts_with('-');
        // The short layout puts the description on the option's own line.
        let same_line = t.split_once("  ").is_some_and(|(_, rest)| !rest.trim().is_empty());
        if is_option && !same_line {
            let next = lines[i + 1..].iter().find(|l| !l.trim().is_empty()).copied().unwrap_or("");
            let described = next.len() - next.trim_start().len() >= 10 && !next.trim_start().starts_with('[');
            if !described {
                missing.push(t.to_string());
            }
        }
        // "          - cpu" without ": what it is"
        if indent >= 10 && t.starts_with("- ") && !t.contains(':') {
            missing.push(format!("possible value {t}"));
        }
    }
    missing
}

#[test]
fn every_option_and_value_is_described() {
    let mut problems = Vec::new();
    for (bin, sub) in HELPS {
        for item in undescribed(&help_text(bin, sub)) {
            problems.push(format!("{bin} {}: {item}", sub.join(" ")));
        }
    }
    assert!(problems.is_empty(), "options without a description:\n{}", problems.join("\n"));
}

#[test]
fn every_binary_has_verbose_and_quiet() {
    for (bin, sub) in HELPS {
        let text = help_text(bin, sub);
        assert!(text.contains("-v, --verbose") && text.contains("-q, --quiet"), "{bin} {sub:?} has no -v/-q:\n{text}");
    }
}

#[test]
fn defaults_are_shown() {
    // The options whose default is not obvious say what it is.
    for (bin, sub, option) in [
        ("nst", &["stylize"][..], "--model"),
        ("nst", &["video"], "--model"),
        ("nst", &["live"], "--model"),
        ("nst", &["stylize"], "--max-size"),
        ("nst", &["sheet"], "--max-size"),
        ("nst-train", &[], "--iterations"),
        ("nst-train", &[], "--output"),
    ] {
        let text = help_text(bin, sub);
        let start = text.find(&format!("{option} ")).unwrap_or_else(|| panic!("{bin} {sub:?}: no {option}"));
        let block = &text[start..];
        let end = block[2..].find("\n  -").map_or(block.len(), |e| e + 2);
        assert!(block[..end].contains("[default: "), "{bin} {sub:?} {option} shows no default:\n{}", &block[..end]);
    }
}

#[test]
fn the_undescribed_check_can_fail() {
    let text = "Options:\n  -q, --quiet   Only errors\n      --seed <SEED>\n          [default: 0]\n\n      --lr <LR>\n          Adam learning rate\n\n          Possible values:\n          - cpu\n          - auto: CUDA when available\n";
    assert_eq!(undescribed(text), vec!["--seed <SEED>".to_string(), "possible value - cpu".to_string()]);
}
