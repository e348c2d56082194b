//! The commands the README and the guides show are the commands this CLI takes: every
//! `dinfogan` command of a shell block parses as written (clap's own parser, so a renamed flag,
//! a value outside an enum or a missing argument fails here), every flag of a synopsis (a
//! `text` block) exists on its subcommand, and the command-line guide's synopsis names every
//! subcommand. Running them is another matter (most train for minutes): the quick start itself
//! runs in the CLI tests.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::args::MISSING_FOLDER;
use crate::Cli;

/// One fenced block of a Markdown file.
struct Block {
    /// The info string after the opening fence (`sh`, `text`, ...).
    lang: String,
    /// The block's lines with their 1-based line numbers in the file.
    lines: Vec<(usize, String)>,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                Some(block) => out.push(block),
                None => {
                    open = Some(Block {
                        lang: info.trim().to_string(),
                        lines: Vec::new(),
                    })
                }
            }
        } else if let Some(block) = &mut open {
            block.lines.push((n + 1, line.to_string()));
        }
    }
    out
}

/// The block's commands as one line each: a line ending in `\` continues on the next, and in a
/// synopsis an indented line continues the command above it.
fn logical_lines(block: &Block, synopsis: bool) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    for (n, line) in &block.lines {
        let indented = line.starts_with(char::is_whitespace) && !line.trim().is_empty();
        let text = line.trim_end();
        let (text, continues) = match text.strip_suffix('\\') {
            Some(text) => (text, true),
            None => (text, false),
        };
        match out.last_mut() {
            Some(last) if continued || (synopsis && indented) => {
                last.1.push(' ');
                last.1.push_str(text.trim());
            }
            _ => out.push((*n, text.to_string())),
        }
        continued = continues;
    }
    out
}

/// The simple commands of one shell line: split at `&&`, `||`, `|`, `;` and `&`, with
/// redirections dropped. `None` where the line is not valid shell quoting.
fn simple_commands(line: &str) -> Option<Vec<Vec<String>>> {
    let mut commands = vec![Vec::new()];
    let mut tokens = shlex::split(line)?.into_iter();
    while let Some(token) = tokens.next() {
        let (token, ends) = match token.strip_suffix(';') {
            Some(rest) if !rest.is_empty() => (rest.to_string(), true),
            _ => (token, false),
        };
        match token.as_str() {
            "&&" | "||" | "|" | ";" | "&" => commands.push(Vec::new()),
            ">" | ">>" | "<" | "2>" | "2>>" => {
                tokens.next();
            }
            t if t.starts_with('>') || t.starts_with("2>") || t.starts_with('<') => {}
            _ => commands.last_mut()?.push(token),
        }
        if ends {
            commands.push(Vec::new());
        }
    }
    commands.retain(|c| !c.is_empty());
    Some(commands)
}

/// The arguments a simple command gives `dinfogan`, if it runs it: directly (`dinfogan`,
/// `target/release/dinfogan`, after environment assignments, `time`, `nohup`, or a loop's `do`)
/// or through `cargo run ... --`.
fn dinfogan_args(command: &[String]) -> Option<Vec<String>> {
    let is_assignment = |t: &str| {
        t.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let start = command.iter().position(|t| {
        !is_assignment(t) && !matches!(t.as_str(), "time" | "nohup" | "do" | "then")
    })?;
    let command = &command[start..];
    let program = command.first()?;
    if program == "dinfogan" || program.ends_with("/dinfogan") {
        return Some(command[1..].to_vec());
    }
    if program == "cargo" && command.get(1).map(String::as_str) == Some("run") {
        let dashes = command.iter().position(|t| t == "--")?;
        return Some(command[dashes + 1..].to_vec());
    }
    None
}

/// Whether clap takes these arguments (help and version requests count as taken). An output
/// file in a folder that does not exist here is taken too: the documented steps make it first
/// (a training's run folder), and this test runs elsewhere.
fn parse(args: &[String]) -> Result<(), String> {
    let argv = std::iter::once("dinfogan".to_string()).chain(args.iter().cloned());
    match <Cli as clap::Parser>::try_parse_from(argv) {
        Ok(_) => Ok(()),
        Err(error) if !error.use_stderr() => Ok(()),
        Err(error) => {
            let text = error.render().to_string();
            let first = text.lines().next().unwrap_or("");
            if error.kind() == clap::error::ErrorKind::ValueValidation
                && first.ends_with(MISSING_FOLDER)
            {
                return Ok(());
            }
            Err(first.into())
        }
    }
}

/// `$NAME` and `${NAME}` replaced by the first value a `for NAME in ...` of the same block gives
/// it (a loop over seeds or models runs its body with each; the first stands for all).
fn substitute(token: &str, loops: &[(String, String)]) -> String {
    let mut out = token.to_string();
    for (name, value) in loops {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    out
}

/// Every `--flag` a synopsis line names for its subcommand exists there. Returns the
/// subcommand's path (e.g. `eval swap`) and the flags it lacks.
fn check_synopsis(line: &str) -> Option<(String, Vec<String>)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.first() != Some(&"dinfogan") {
        return None;
    }
    let mut command = Cli::command();
    let mut path = Vec::new();
    for word in &words[1..] {
        match command.find_subcommand(word) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                command = sub.clone();
            }
            None => break,
        }
    }
    let longs: Vec<String> = command
        .get_arguments()
        .flat_map(|a| {
            a.get_long_and_visible_aliases()
                .unwrap_or_default()
                .into_iter()
                .map(str::to_string)
        })
        .chain(["help".to_string()])
        .collect();
    let mut missing = Vec::new();
    let bytes = line.as_bytes();
    for (at, _) in line.match_indices("--") {
        let before = if at == 0 { b' ' } else { bytes[at - 1] };
        if !matches!(before, b' ' | b'[' | b'(' | b'|' | b'`') {
            continue;
        }
        let name: String = line[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if !name.is_empty() && !longs.contains(&name) {
            missing.push(format!("--{name}"));
        }
    }
    Some((path.join(" "), missing))
}

/// What one Markdown text says: the failures, the shell commands parsed and the subcommands
/// its synopses name.
#[derive(Default)]
struct Checked {
    failures: Vec<String>,
    parsed: usize,
    synopsis: Vec<String>,
}

fn check_markdown(name: &str, markdown: &str, checked: &mut Checked) {
    for block in blocks(markdown) {
        let shell = matches!(block.lang.as_str(), "sh" | "bash" | "shell" | "console");
        let synopsis = block.lang == "text";
        if synopsis {
            for (n, line) in logical_lines(&block, true) {
                for part in line.split(';') {
                    if let Some((path, missing)) = check_synopsis(part.trim()) {
                        if !missing.is_empty() {
                            checked.failures.push(format!(
                                "{name}:{n}: `dinfogan {path}` has no {}",
                                missing.join(", ")
                            ));
                        }
                        checked.synopsis.push(path);
                    }
                }
            }
        }
        if !shell {
            continue;
        }
        let mut loops: Vec<(String, String)> = Vec::new();
        for (n, line) in logical_lines(&block, false) {
            let Some(commands) = simple_commands(&line) else {
                checked
                    .failures
                    .push(format!("{name}:{n}: not valid shell quoting: {line}"));
                continue;
            };
            for command in &commands {
                if let [keyword, name, within, first, ..] = command.as_slice() {
                    if keyword == "for" && within == "in" {
                        // Longer names first, so that `$seeds` is not read as `$seed` + "s".
                        loops.push((name.clone(), first.clone()));
                        loops.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
                    }
                }
            }
            let commands = commands
                .iter()
                .map(|c| c.iter().map(|t| substitute(t, &loops)).collect::<Vec<_>>());
            for args in commands.filter_map(|c: Vec<String>| dinfogan_args(&c)) {
                match parse(&args) {
                    Ok(()) => checked.parsed += 1,
                    Err(error) => checked.failures.push(format!(
                        "{name}:{n}: `dinfogan {}`: {error}",
                        args.join(" ")
                    )),
                }
            }
        }
    }
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.')
                && !matches!(name, "node_modules" | "target" | "dist" | "test-output")
            {
                markdown_files(&path, out);
            }
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

#[test]
fn every_documented_command_parses_and_every_synopsis_flag_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    markdown_files(root, &mut files);
    let mut checked = Checked::default();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        check_markdown(&name, &text, &mut checked);
    }
    assert!(
        checked.failures.is_empty(),
        "documented commands the CLI does not take:\n{}",
        checked.failures.join("\n")
    );
    // The README's quick start alone has two; the guides and results many more.
    assert!(
        checked.parsed >= 40,
        "only {} commands found",
        checked.parsed
    );

    // The command-line guide's synopsis names every subcommand.
    let mut guide = Checked::default();
    let text = std::fs::read_to_string(root.join("docs/guide/command-line.md")).unwrap();
    check_markdown("command-line.md", &text, &mut guide);
    let mut missing = Vec::new();
    fn leaves(command: &clap::Command, path: &str, out: &mut Vec<String>) {
        let subs: Vec<_> = command
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push(path.trim().to_string());
        }
        for sub in subs {
            leaves(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut all = Vec::new();
    leaves(&Cli::command(), "", &mut all);
    for path in all {
        if !guide.synopsis.contains(&path) {
            missing.push(path);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/guide/command-line.md's synopsis lacks: {missing:?}"
    );
}

#[test]
fn a_wrong_flag_value_or_synopsis_flag_is_caught() {
    let markdown = "```sh\n\
        dinfogan train --data builtin --steps 10 --out runs/a   # fine\n\
        RAYON_NUM_THREADS=1 dinfogan train --bogus 1 --out runs/b\n\
        cargo run --release -p dinfogan-cli -- eval separation --checkpoint a --encoder sideways\n\
        for s in 0 1; do dinfogan generate --checkpoint a \\\n  --out g.png --rows x; done\n\
        dinfogan export --checkpoint a --out m.bpk > log.txt 2>&1 && echo done | tee t\n\
        for seed in 3 4; do dinfogan train --seed $seed --out runs/s$seed; dinfogan encode --checkpoint a --out nowhere/c.csv; done\n\
        ```\n\
        ```text\n\
        dinfogan eval swap --checkpoint ... [--count 500]\n\
        dinfogan eval leak --checkpoint ... [--rows 32 --cols 32]\n\
        \x20                  [--nonsense N]\n\
        ```\n";
    let mut checked = Checked::default();
    check_markdown("t.md", markdown, &mut checked);
    assert_eq!(checked.parsed, 4, "{:?}", checked.failures);
    assert_eq!(checked.failures.len(), 4, "{:#?}", checked.failures);
    assert!(checked.failures[0].contains("t.md:3:") && checked.failures[0].contains("--bogus"));
    assert!(checked.failures[1].starts_with("t.md:4:") && checked.failures[1].contains("sideways"));
    assert!(checked.failures[2].starts_with("t.md:5:") && checked.failures[2].contains("'x'"));
    assert!(checked.failures[3].starts_with("t.md:12: `dinfogan eval leak` has no --nonsense"));
    assert_eq!(checked.synopsis, ["eval swap", "eval leak"]);
}
