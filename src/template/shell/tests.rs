use super::*;

/// `{{v}}` in `template` stands for value 0, `{{w}}` for value 1.
fn render(template: &str, values: &[Value]) -> Result<ShellCommand, ShellError> {
    let script = template
        .replace("{{v}}", &placeholder(0).to_string())
        .replace("{{w}}", &placeholder(1).to_string());
    resolve(&script, values)
}

/// A value that runs something in every way a shell could be tricked into it.
fn hostile(dir: &std::path::Path) -> String {
    let m = |i: u32| dir.join(format!("PWNED-{i}")).display().to_string();
    format!(
        "fix $(touch {}) `touch {}` '\"; touch {} #\ntouch {} ${{IFS}}EOF\nEOF\n\\",
        m(1),
        m(2),
        m(3),
        m(4)
    )
}

/// Runs a resolved command with `sh` (and with bash when there is one), returning stdout.
fn run(cmd: &ShellCommand, dir: &std::path::Path) -> Vec<String> {
    let mut outs = Vec::new();
    for shell in ["sh", "bash"] {
        let Ok(out) = std::process::Command::new(shell)
            .arg("-c")
            .arg(&cmd.script)
            .envs(cmd.env.iter().cloned())
            .current_dir(dir)
            .output()
        else {
            continue;
        };
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                !name.to_string_lossy().starts_with("PWNED"),
                "{shell} ran a value: {name:?} from {:?}",
                cmd.script
            );
        }
        assert!(
            out.status.success(),
            "{shell}: {}\n{:?}",
            String::from_utf8_lossy(&out.stderr),
            cmd.script
        );
        outs.push(String::from_utf8(out.stdout).unwrap());
    }
    outs
}

#[test]
fn values_stay_data_in_every_form_the_shell_allows() {
    let dir = tempfile::tempdir().unwrap();
    let v = hostile(dir.path());
    let values = [Value::from(v.clone())];
    for (template, want) in [
        ("printf '%s' {{v}}", v.clone()),
        ("printf '%s' \"{{v}}\"", v.clone()),
        (
            "printf '%s' \"fix: {{v}} (it's done)\"",
            format!("fix: {v} (it's done)"),
        ),
        ("x=\"{{v}}\"; printf '%s' \"$x\"", v.clone()),
        ("x={{v}}; printf '%s' \"$x\"", v.clone()),
        ("export x={{v}}; printf '%s' \"$x\"", v.clone()),
        ("printf '%s' pre{{v}}post", format!("pre{v}post")),
        (
            "printf '%s' \"$(printf '%s' {{v}})\"",
            v.trim_end_matches('\n').to_owned(),
        ),
        (
            "printf '%s' \"$(printf '%s' \"{{v}}\")\"",
            v.trim_end_matches('\n').to_owned(),
        ),
        ("cat <<EOF\n{{v}}\nEOF", format!("{v}\n")),
        ("cat <<-EOF\n\t[{{v}}]\n\tEOF", format!("[{v}]\n")),
        (
            "cat <<EOF > out.txt\nsay {{v}}\nEOF\ncat out.txt",
            format!("say {v}\n"),
        ),
        ("# a comment {{v}}\nprintf ok", "ok".into()),
        ("printf ok # {{v}}", "ok".into()),
        ("sh -c 'printf \"%s\" \"$1\"' sh {{v}}", v.clone()),
        ("sh -c 'printf \"%s\" \"$1\"' sh \"{{v}}\"", v.clone()),
        (
            "python3 -c 'import sys; sys.stdout.write(sys.argv[1])' {{v}}",
            v.clone(),
        ),
        ("case {{v}} in *) printf ok;; esac", "ok".into()),
        ("case x in x) printf '%s' {{v}};; esac", v.clone()),
        ("if true; then printf '%s' \"{{v}}\"; fi", v.clone()),
        ("for x in {{v}}; do printf '%s' \"$x\"; done", v.clone()),
        ("{ printf '%s' {{v}}; } | cat", v.clone()),
        ("printf '%s' {{v}} | cat | cat", v.clone()),
        ("test -n {{v}} && printf ok", "ok".into()),
        ("[ {{v}} != x ] && printf ok", "ok".into()),
        ("timeout 5 printf '%s' {{v}}", v.clone()),
        ("env A=1 printf '%s' {{v}}", v.clone()),
        ("awk 'BEGIN { printf \"%s\", ARGV[1] }' {{v}}", v.clone()),
        ("awk -v x={{v}} 'BEGIN { printf \"ok\" }'", "ok".into()),
        ("printf '%s' {{v}} > f.txt && cat f.txt", v.clone()),
    ] {
        let cmd = render(template, &values).unwrap_or_else(|e| panic!("{template}: {e}"));
        for out in run(&cmd, dir.path()) {
            assert_eq!(out, want, "{template} as {:?}", cmd.script);
        }
    }
}

#[test]
fn values_are_refused_where_they_would_run_or_break() {
    let v = [Value::from("x")];
    for (template, why) in [
        ("printf '%s' '{{v}}'", "single quotes"),
        ("git commit -m 'fix: {{v}}'", "single quotes"),
        ("echo 'say \"{{v}}\"'", "single quotes"),
        ("printf %s $'{{v}}'", "`$'…'`"),
        ("echo `echo {{v}}`", "backticks"),
        ("echo \"`echo {{v}}`\"", "backticks"),
        ("echo $(( {{v}} + 1 ))", "arithmetic"),
        ("(( {{v}} ))", "arithmetic"),
        ("echo ${x:-{{v}}}", "`${…}`"),
        ("cat <<'EOF'\n{{v}}\nEOF", "delimiter is quoted"),
        ("cat <<\"EOF\"\n{{v}}\nEOF", "delimiter is quoted"),
        ("cat <<EO\\F\n{{v}}\nEOF", "delimiter is quoted"),
        ("eval \"echo {{v}}\"", "code that `eval` runs"),
        ("eval echo {{v}}", "code that `eval` runs"),
        ("sh -c \"echo {{v}}\"", "code that `sh` runs"),
        ("bash -lc \"echo {{v}}\"", "code that `bash` runs"),
        ("/bin/sh -c {{v}}", "code that `sh` runs"),
        ("python3 -c \"print('{{v}}')\"", "code that `python3` runs"),
        ("python3 {{v}}", "file or module that `python3` runs"),
        ("python3 -m {{v}}", "file or module that `python3` runs"),
        ("node -e \"{{v}}\"", "code that `node` runs"),
        ("perl -ne \"print '{{v}}'\"", "code that `perl` runs"),
        ("ruby -e \"puts '{{v}}'\"", "code that `ruby` runs"),
        ("awk \"{ print \\\"{{v}}\\\" }\"", "code that `awk` runs"),
        ("sed \"s/a/{{v}}/\" f", "code that `sed` runs"),
        ("sed -e \"s/a/{{v}}/\" f", "code that `sed` runs"),
        ("echo {{v}} | sh", "standard input"),
        ("printf '%s' \"{{v}}\" | bash -s", "standard input"),
        ("echo {{v}} | tee f | python3", "standard input"),
        ("cat <<EOF | sh\n{{v}}\nEOF", "standard input"),
        ("sh <<EOF\necho {{v}}\nEOF", "standard input"),
        ("python3 - <<EOF\nprint('{{v}}')\nEOF", "standard input"),
        ("sh <<< {{v}}", "standard input"),
        ("{{v}} --version", "command to run"),
        ("X=1 {{v}}", "command to run"),
        ("\"{{v}}\"", "command to run"),
        ("echo a; {{v}}", "command to run"),
        ("echo a && \"{{v}}\" b", "command to run"),
        ("env A=1 {{v}}", "command to run"),
        ("xargs -n 1 {{v}}", "command to run"),
        ("timeout 5 {{v}}", "command to run"),
        ("find . -exec {{v}} \\;", "command to run"),
        ("find . -exec sh -c \"{{v}}\" \\;", "code that `sh` runs"),
        ("[[ {{v}} == x ]]", "`[[ … ]]`"),
        ("read -r {{v}}", "variable name of `read`"),
        ("declare {{v}}=1", "variable name of `declare`"),
        ("printf -v {{v}} %s x", "variable name of `printf`"),
        ("let \"x = {{v}}\"", "code that `let` runs"),
        ("trap \"echo {{v}}\" EXIT", "code that `trap` runs"),
        ("ssh host \"ls {{v}}\"", "code that `ssh` runs"),
        ("su -c \"ls {{v}}\" me", "code that `su` runs"),
        ("git -c \"core.pager={{v}}\" log", "code that `git` runs"),
        ("env -S \"{{v}}\"", "code that `env` runs"),
        ("watch \"ls {{v}}\"", "code that `watch` runs"),
        ("echo \\{{v}}", "backslash"),
        ("echo \"\\{{v}}\"", "backslash"),
        ("echo ${{v}}", "right after `$`"),
        ("echo \"${{v}}\"", "right after `$`"),
        ("cat <<{{v}}\nx\n", "delimiter"),
        ("echo \"{{v}}", "cannot be read"),
        ("echo 'unclosed {{v}}", "cannot be read"),
    ] {
        let e = render(template, &v).expect_err(template);
        assert!(
            e.message.contains(why),
            "{template}: expected `{why}`, got: {}",
            e.message
        );
    }
}

#[test]
fn the_error_shows_the_command_with_the_value_marked() {
    let e = render(
        "git add -A && git commit -m 'fix: {{v}}'",
        &[Value::from("t")],
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "a value inside single quotes: the shell keeps `$` literal there, so the value cannot be passed safely in `git add -A && git commit -m 'fix: {{ … }}'`"
    );
    assert!(e.help.contains("double quotes"), "{}", e.help);
}

#[test]
fn words_lists_and_variables() {
    let values = [
        Value::from(vec!["a b", "c"]),
        Value::from("it's"),
        Value::from("it's"),
    ];
    let script = format!(
        "ls {} \"{}\" {}",
        placeholder(0),
        placeholder(1),
        placeholder(2)
    );
    let cmd = resolve(&script, &values).unwrap();
    assert_eq!(cmd.script, "ls 'a b' c \"${CW_VALUE_1}\" 'it'\\''s'");
    assert_eq!(cmd.env, [("CW_VALUE_1".to_owned(), "it's".to_owned())]);
    let cmd = render("echo \"{{v}}\"", &values[..1]).unwrap();
    assert_eq!(cmd.env[0].1, "a b c");
    // No values: the text as it is, whatever it holds.
    let cmd = resolve("echo 'unbalanced", &[]).unwrap();
    assert_eq!(cmd.script, "echo 'unbalanced");
}

#[test]
fn a_forged_or_lost_placeholder_is_refused() {
    let p = placeholder(0);
    let e = resolve(&format!("echo {p} {p}"), &[Value::from("x")]).unwrap_err();
    assert!(e.message.contains("could not be told apart"), "{e}");
    let e = resolve("echo", &[Value::from("x")]).unwrap_err();
    assert!(e.message.contains("could not be told apart"), "{e}");
    let e = resolve(&format!("echo {}", placeholder(3)), &[Value::from("x")]).unwrap_err();
    assert!(e.message.contains("could not be told apart"), "{e}");
    let e = resolve(&format!("echo {p}"), &[Value::from("a\0b")]).unwrap_err();
    assert!(e.message.contains("NUL"), "{e}");
}

#[test]
fn check_reports_every_refused_place() {
    let p = |n| placeholder(n);
    let script = format!("echo '{}' \"{}\" {}\nsh -c \"{}\"", p(0), p(1), p(2), p(3));
    let found: Vec<(usize, Why)> = check(&script)
        .into_iter()
        .map(|r| (r.value, r.why))
        .collect();
    assert_eq!(found, [(0, Why::SingleQuotes), (3, Why::Code("sh".into()))]);
}
