"""``mailhelpdesk config check``: is the settings file right, and where is it wrong;
``config show``: the settings in force and where each came from.

A problem is printed as ``file:line: message``: the line of the setting it names (``setting
mailboxes[billing].imap.port: …`` points at that ``port:``), found in the YAML's own node marks.
"""

import re
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from mailhelpdesk.config import ENV_KEYS, Settings, config_path, load_settings
from mailhelpdesk.errors import ConfigError

_SETTING = re.compile(r"^setting ([A-Za-z_][\w\[\].@+-]*)")
_STEP = re.compile(r"([A-Za-z_]\w*)(?:\[([^\]]+)\])?")


def check_config(named: Path | None, env: Mapping[str, str], out: TextIO) -> int:
    """0 and a summary when the settings load; 1 and ``file:line: message`` when they do not."""
    path = config_path(named, env)
    if path is None:
        out.write("no config file (looked for ./mailhelpdesk.yaml and /etc/mailhelpdesk/mailhelpdesk.yaml): "
                  "running on defaults and the environment\n")
    try:
        settings = load_settings(path, environ=env)
    except ConfigError as exc:
        out.write(f"{locate(path, str(exc))}\n")
        return 1
    out.write(f"{path or 'defaults'}: OK; {summary(settings)}\n")
    return 0


def summary(settings: Settings) -> str:
    boxes = ", ".join(f"{b.name} <{b.address}>" + (f" (IMAP {b.imap.username}@{b.imap.host}/{b.imap.folder})"
                                                   if b.imap else "") for b in settings.mailboxes)
    return f"mailboxes: {boxes}; database: {settings.database_url.split('://', 1)[0]}"


def locate(path: Path | None, message: str) -> str:
    """``message`` prefixed with the file and line of the setting it names, as far as found."""
    if path is None or re.match(r"^\S+:\d+(:\d+)?: ", message):
        return message  # no file, or the YAML parser already said where
    if message.startswith(f"{path}: "):
        message = message[len(f"{path}: "):]
    named = _SETTING.match(message)
    line = _line_of(path, named.group(1)) if named else None
    return f"{path}:{line}: {message}" if line else f"{path}: {message}"


def _line_of(path: Path, setting: str) -> int | None:
    try:
        node: yaml.Node | None = yaml.compose(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for key, item in _STEP.findall(setting):
        node, found = _child(node, key, item)
        if found is None:
            break
        line = found
    return line


def _child(node: yaml.Node | None, key: str, item: str) -> tuple[yaml.Node | None, int | None]:
    """The value of ``key`` (and of its list entry named ``item``) and the line it starts on."""
    if not isinstance(node, yaml.MappingNode):
        return None, None
    for key_node, value in node.value:
        if key_node.value == key:
            if not item:
                return value, key_node.start_mark.line + 1
            entry = _entry(value, item)
            return (entry, entry.start_mark.line + 1) if entry is not None else (value, key_node.start_mark.line + 1)
    return None, None


def _entry(node: yaml.Node, name: str) -> yaml.Node | None:
    """The entry of a list of mappings whose ``name`` is ``name``."""
    if not isinstance(node, yaml.SequenceNode):
        return None
    for entry in node.value:
        if isinstance(entry, yaml.MappingNode) and any(k.value == "name" and v.value == name for k, v in entry.value):
            return entry
    return None


_SECRET_WORDS = ("password", "secret")
_SECRET_NAMES = frozenset({"metrics_token"})  # not every "token" key is secret: imap.token_file is a path


def show_config(named: Path | None, env: Mapping[str, str], out: TextIO) -> int:
    """Every setting in force and where it came from (the file's line, a variable, the default);
    passwords and the secret key are shown as set or not, never their value."""
    path = config_path(named, env)
    settings = load_settings(path, environ=env)
    file_lines = _top_level_lines(path) if path is not None else {}
    variables = {key: name for name, key in ENV_KEYS.items() if env.get(name)}
    for key, variable in (("secret_key", "MAILHELPDESK_SECRET_KEY"), ("metrics_token", "MAILHELPDESK_METRICS_TOKEN")):
        if env.get(variable):
            variables[key] = variable
    for name in (f.name for f in fields(settings)):
        source = (f"env {variables[name]}" if name in variables else
                  f"{path}:{file_lines[name]}" if name in file_lines else "default")
        out.write(f"{name} = {_shown(name, getattr(settings, name))}  # {source}\n")
    return 0


def _shown(name: str, value: Any) -> str:
    if name in _SECRET_NAMES or any(word in name for word in _SECRET_WORDS):
        return "(set)" if value else "(not set)"
    if is_dataclass(value) and not isinstance(value, type):
        return "{" + ", ".join(f"{f.name}: {_shown(f.name, getattr(value, f.name))}" for f in fields(value)) + "}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(name, item) for item in value) + "]"
    return repr(str(value)) if isinstance(value, Path) else repr(value)


def _top_level_lines(path: Path) -> dict[str, int]:
    try:
        node = yaml.compose(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
