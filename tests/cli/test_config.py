"""The config schema: every bad value is one line naming file, section, key,
value and what is expected, through the real `debridfs` command (exit status
2, no traceback); good values parse to the types the code reads; secrets
stay secret; docs/config.md is current."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.mounting import DEBRIDFS, cli_env
from vfs import configdoc
from vfs.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]

# (config text, what the one error line must contain)
BAD = [
    (
        '[realdebrid]\ntoken = "t0k3n"\nallow_delete = "false"\n',
        '[realdebrid] allow_delete = "false": expected true or false',
    ),
    ('[mount]\nallow_other = "no"\n', '[mount] allow_other = "no": expected true or false'),
    ("[mount]\nallow_other = 1\n", "[mount] allow_other = 1: expected true or false"),
    ('[cache]\nblock_size = "lots"\n', '[cache] block_size = "lots": expected a size'),
    ("[cache]\nblock_size = 1000\n", "[cache] block_size = 1000: expected a power of two"),
    ("[cache]\nmemory_size = true\n", "[cache] memory_size = true: expected a size"),
    ("[read]\ntimeout = -1\n", "[read] timeout = -1: expected a duration greater than 0"),
    ('[read]\ntimeout = "sixty"\n', '[read] timeout = "sixty": expected a duration'),
    ("[read]\ntimeout = 0\n", "[read] timeout = 0: expected a duration greater than 0"),
    ('[read]\nmax_connections = "8"\n', '[read] max_connections = "8": expected a whole number'),
    ("[read]\nmax_connections = 0\n", "[read] max_connections = 0: expected a whole number of at least 1"),
    ('[realdebird]\ntoken = "t0k3n"\n', "unknown section [realdebird] (did you mean 'realdebrid'?)"),
    ("[read]\ntimout = 30\n", "[read] unknown key 'timout' (did you mean 'timeout'?)"),
    (
        '[realdebrid]\napi_url = "api.real-debrid.com"\n',
        '[realdebrid] api_url = "api.real-debrid.com": expected an http:// or https:// URL',
    ),
    ('[realdebrid.groups]\nshows = "(S"\n', '[realdebrid.groups] shows = "(S": bad regular expression'),
    ('realdebrid = "yes"\n', "[realdebrid] must be a table"),
    ("[mount]\nread_ahead_kb = true\n", "[mount] read_ahead_kb = true: expected a positive whole number"),
    ("[realdebrid]\ntoken = 12345678\n", "[realdebrid] token = <hidden>: expected a string"),
    ("[read\ntimeout = 3\n", "not valid TOML"),
    ('[mount]\nallow_other = "yes"\n', '[mount] allow_other = "yes": expected true or false'),
    ('[mount]\nread_only = "1"\n', '[mount] read_only = "1": expected true or false'),
    ("[read]\ntimeout = inf\n", "[read] timeout = inf: expected a duration"),
    ("[read]\nkeep_open_seconds = nan\n", "[read] keep_open_seconds = nan: expected a duration"),
    ('[read]\nstall_timeout = "-5s"\n', '[read] stall_timeout = "-5s": expected a duration greater than 0'),
    ("[cache]\nmemory_size = -1\n", "[cache] memory_size = -1: expected a size of at least 0"),
    ('[cache]\nmemory_size = "10 parsecs"\n', '[cache] memory_size = "10 parsecs": expected a size'),
    ("[cache]\ncache_dir = 5\n", "[cache] cache_dir = 5: expected a path"),
    ("[mount]\ntimeout = 5\n", "[mount] unknown key 'timeout'"),
    ("[read]\nallow_other = true\n", "[read] unknown key 'allow_other'"),
    ('[realdebrid]\ntoken = "t0k3n and more"\n', "[realdebrid] token = <hidden>: it holds a space"),
    ('[portal]\napi_key = "t0k3n\\u0000"\n', "[portal] api_key = <hidden>: it holds a space or a control"),
    ("[cache]\nmemory_size = 1.5\n", "[cache] memory_size = 1.5: expected a size"),
    (
        '[notify]\nkind = "plex"\nurl = "http://127.0.0.1:9"\ntoken = "t0k3n"\n',
        "[[notify]] takes double brackets",
    ),
]


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def debridfs(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        DEBRIDFS + list(args),
        capture_output=True,
        text=True,
        timeout=60,
        env={**cli_env(tmp_path), **(env or {})},
        cwd=ROOT,
    )


def one_error_line(result: subprocess.CompletedProcess, status: int = 2) -> str:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("text, message", BAD, ids=[b[1][:40] for b in BAD])
def test_bad_value_is_one_line_through_the_cli(tmp_path, text, message):
    config = write(tmp_path, text)
    for args in (
        ["config", "check", "--config", str(config)],
        ["--config", str(config), "mount", str(tmp_path)],
    ):
        line = one_error_line(debridfs(tmp_path, *args))
        assert line.startswith(f"debridfs: {config}: "), line
        assert message in line
        assert "t0k3n" not in line and "12345678" not in line


def test_allow_delete_false_is_never_true(tmp_path):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, '[realdebrid]\nallow_delete = "false"\n'), env={})
    config = load_config(write(tmp_path, "[realdebrid]\nallow_delete = false\n"), env={})
    assert config.realdebrid.allow_delete is False


def test_good_values_parse_to_the_types_the_code_reads(tmp_path):
    text = (
        '[realdebrid]\ntoken = "t0k3n"\napi_url = "http://127.0.0.1:9/rest/1.0/"\n'
        'refresh_interval = "2min"\non_change = "scan --paths"\nextensions = [".MKV", "srt"]\n'
        "[realdebrid.groups]\nshows = '(?i)\\bS\\d\\d'\n"
        '[cache]\nblock_size = "1MiB"\nmemory_size = 1048576\ncache_max_size = "1GB"\n'
        '[read]\ntimeout = 2.5\nread_ahead_max = "8MiB"\n'
        "[mount]\nread_ahead_kb = false\nlisting_ttl = 0\n"
    )
    config = load_config(write(tmp_path, text), env={})
    rd = config.realdebrid
    assert rd.token == "t0k3n" and rd.api_url == "http://127.0.0.1:9/rest/1.0"
    assert rd.refresh_interval == 120.0 and rd.on_change == ["scan", "--paths"]
    assert rd.extensions == ["mkv", "srt"] and rd.groups == {"shows": r"(?i)\bS\d\d"}
    assert rd.credentials_file == tmp_path / "realdebrid-credentials.json"
    assert (rd.repair, rd.repair_interval, rd.repair_max_attempts) == (True, 86400.0, 2)
    assert config.cache.block_size == 1 << 20 and config.cache.cache_max_size == 10**9
    assert config.read.timeout == 2.5 and config.read.read_ahead_max == 8 << 20
    assert config.read.stall_timeout == 5.0
    assert config.mount.read_ahead_kb is None and config.mount.listing_ttl == 0
    assert "t0k3n" not in repr(config)


def test_secrets_from_the_environment_win(tmp_path):
    path = write(tmp_path, '[realdebrid]\ntoken = "from-file"\n[rapidshare]\nlogin = "me"\n')
    config = load_config(
        path, env={"DEBRIDFS_REALDEBRID_TOKEN": "from-env", "DEBRIDFS_RAPIDSHARE_PASSWORD": "pw-env"}
    )
    assert config.realdebrid.token == "from-env" and config.rapidshare.password == "pw-env"
    only_env = load_config(write(tmp_path, ""), env={"DEBRIDFS_REALDEBRID_TOKEN": "from-env"})
    assert only_env.realdebrid is not None and only_env.realdebrid.token == "from-env"


def test_show_masks_secrets_and_check_names_the_services(tmp_path):
    path = write(tmp_path, '[realdebrid]\ntoken = "t0k3n-secret"\n[read]\ntimeout = "1min"\n')
    shown = debridfs(tmp_path, "config", "show", "--config", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "t0k3n-secret" not in shown.stdout and 'token = "********"' in shown.stdout
    assert "timeout = 60.0" in shown.stdout and "[cache]" in shown.stdout
    checked = debridfs(tmp_path, "--config", str(path), "config", "check")
    assert checked.returncode == 0 and "services: realdebrid" in checked.stdout


def test_readable_config_gets_a_warning_naming_the_fix(tmp_path):
    path = write(tmp_path, '[realdebrid]\ntoken = "t0k3n"\n', mode=0o644)
    result = debridfs(tmp_path, "config", "check", "--config", str(path))
    assert result.returncode == 0
    assert "WARNING" in result.stderr and f"chmod 600 {path}" in result.stderr
    path.chmod(0o600)
    assert "WARNING" not in debridfs(tmp_path, "config", "check", "--config", str(path)).stderr


def test_missing_config_file_is_reported_as_missing(tmp_path):
    missing = tmp_path / "nope.toml"
    line = one_error_line(debridfs(tmp_path, "--config", str(missing), "mount", str(tmp_path)))
    assert f"config file {missing} does not exist" in line
    # The default file: missing is not "no service enabled".
    (tmp_path / "mnt").mkdir()
    line = one_error_line(debridfs(tmp_path, "mount", str(tmp_path / "mnt")))
    assert "xdgconfig/debridfs/config.toml does not exist" in line


def test_docs_config_md_is_generated_from_the_schema():
    assert configdoc.DOC.read_text() == configdoc.render(), (
        "docs/config.md is stale: run `python -m vfs.configdoc`"
    )


def test_sizes_and_durations_in_every_usual_form(tmp_path):
    text = (
        '[cache]\nmemory_size = "10 MiB"\ncache_max_size = "10MB"\n'
        '[read]\nread_ahead_max = "10m"\nprefetch_budget = 0\ntimeout = "10m"\nkeep_open_seconds = 0\n'
    )
    config = load_config(write(tmp_path, text), env={})
    assert (config.cache.memory_size, config.cache.cache_max_size) == (10 << 20, 10**7)
    assert (config.read.read_ahead_max, config.read.prefetch_budget) == (10 << 20, 0)
    assert (config.read.timeout, config.read.keep_open_seconds) == (600.0, 0.0)


def test_empty_file_and_byte_order_mark(tmp_path):
    empty = write(tmp_path, "")
    checked = debridfs(tmp_path, "config", "check", "--config", str(empty))
    assert checked.returncode == 0 and "services: none" in checked.stdout
    # Notepad saves UTF-8 with a byte order mark.
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[realdebrid]\ntoken = "t0k3n"\n[read]\ntimeout = 7\n')
    path.chmod(0o600)
    checked = debridfs(tmp_path, "config", "check", "--config", str(path))
    assert checked.returncode == 0 and "services: realdebrid" in checked.stdout, checked.stderr
    assert load_config(path, env={}).read.timeout == 7.0


def test_a_directory_or_an_unreadable_file_is_one_line(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    line = one_error_line(debridfs(tmp_path, "config", "check", "--config", str(tmp_path / "dir.toml")))
    assert "dir.toml" in line and "is a directory" in line
    # The default path being a directory (the click option does not see it).
    default = tmp_path / "xdgconfig" / "debridfs" / "config.toml"
    default.mkdir(parents=True)
    line = one_error_line(debridfs(tmp_path, "config", "check"))
    assert line == f"debridfs: {default} is a directory, not a config file"
    # Not UTF-8: what a newcomer gets from a config saved in another encoding.
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[portal]\napi_url = "https://caf\xe9.example"\n')
    latin.chmod(0o600)
    line = one_error_line(debridfs(tmp_path, "config", "check", "--config", str(latin)))
    assert line.startswith(f"debridfs: {latin}: cannot read it: ")


def test_pasted_tokens_lose_their_line_end_in_the_file_and_the_environment(tmp_path):
    path = write(tmp_path, '[realdebrid]\ntoken = " t0k3n\\n"\n[portal]\napi_key = "obb_k3y\\t"\n')
    config = load_config(path, env={})
    assert config.realdebrid.token == "t0k3n" and config.portal.api_key == "obb_k3y"
    config = load_config(
        path, env={"DEBRIDFS_REALDEBRID_TOKEN": "from-env\n", "DEBRIDFS_PORTAL_API_KEY": " "}
    )
    assert config.realdebrid.token == "from-env" and config.portal.api_key == "obb_k3y"
    # A password may hold spaces: kept as written.
    config = load_config(
        write(tmp_path, '[rapidshare]\nlogin = "me"\n'), env={"DEBRIDFS_RAPIDSHARE_PASSWORD": "a b "}
    )
    assert config.rapidshare.password == "a b "
    # A control character inside: one line naming the variable, never its value.
    result = debridfs(
        tmp_path, "config", "show", "--config", str(path), env={"DEBRIDFS_REALDEBRID_TOKEN": "s3cr\x01t"}
    )
    line = one_error_line(result)
    assert line.startswith("debridfs: environment variable DEBRIDFS_REALDEBRID_TOKEN: it holds")
    assert "s3cr" not in result.stderr + result.stdout


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "config.toml"
    path.write_text(
        '[paths]\nstate_dir = "state"\ncache_root = "~/cache"\n[cache]\ncache_dir = "../blocks"\n'
    )
    path.chmod(0o600)
    config = load_config(path, env={})
    assert config.state_dir == tmp_path / "etc" / "state"
    assert config.cache.cache_dir == tmp_path / "etc" / ".." / "blocks"
    assert config.cache_root == Path("~/cache").expanduser()
    # `debridfs status` from another directory finds the same state dir.
    shown = debridfs(tmp_path, "config", "show", "--config", str(path))
    assert f'state_dir = "{tmp_path / "etc" / "state"}"' in shown.stdout, shown.stdout
    # On the command line, relative to where the command runs.
    config = load_config(path, env={}, overrides={"cache": {"cache_dir": "here"}})
    assert config.cache.cache_dir == Path.cwd() / "here"


def test_every_problem_is_a_line_of_its_own(tmp_path):
    path = write(tmp_path, '[[notify]]\nkind = "plex"\n[read]\ntimeout = "soon"\n')
    result = debridfs(tmp_path, "config", "check", "--config", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(f"debridfs: {path}: ") for line in lines), lines
    assert sorted(line.split(": ", 2)[2][:22] for line in lines) == [
        "[[notify]] #1 token is",
        "[[notify]] #1 url is r",
        '[read] timeout = "soon',
    ]


def test_a_mistake_on_the_command_line_is_named_as_such(tmp_path):
    path = write(tmp_path, '[realdebrid]\ntoken = "t0k3n"\n')
    (tmp_path / "mnt").mkdir()
    for option, message in (
        ("nosuch.key=1", "unknown section [nosuch]"),
        ("read.timout=1", "[read] unknown key 'timout' (did you mean 'timeout'?)"),
        ("allow_other=yes", '[mount] allow_other = "yes": expected true or false'),
    ):
        result = debridfs(tmp_path, "--config", str(path), "mount", str(tmp_path / "mnt"), "-o", option)
        line = one_error_line(result)
        assert line.startswith("debridfs: command line (-o or a mount flag): "), line
        assert message in line
