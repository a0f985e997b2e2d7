"""The ``lines:`` and ``teams:`` sections: who works on which support line.

    lines:                      # optional: these are the defaults
      1: {name: Dispatch}
      2: {name: Specialists}
      3: {name: Experts, writes_to_customers: false}
      4: {name: Vendor}
    teams:
      dispatch: {line: 1, members: [anna@example.com, oleg@example.com]}
      network:  {line: 2, members: [ivan@example.com], address: network@example.com}
"""

from dataclasses import dataclass

import yaml

from mailhelpdesk.rules.source import Reader

LINE_NUMBERS = (1, 2, 3, 4)


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    name: str
    writes_to_customers: bool = True


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    line: int
    members: tuple[str, ...]
    address: str | None = None  # where "notify team" mail goes; else every member


DEFAULT_LINES = {
    1: Line(1, "Dispatch"),
    2: Line(2, "Specialists"),
    3: Line(3, "Experts", writes_to_customers=False),
    4: Line(4, "Vendor"),
}


def read_lines(reader: Reader, node: yaml.Node | None) -> dict[int, Line]:
    if node is None:
        return dict(DEFAULT_LINES)
    lines = dict(DEFAULT_LINES)
    for key, value in (reader.mapping(node, "lines") or {}).items():
        if not key.isdigit() or int(key) not in LINE_NUMBERS:
            reader.error(value, f"support lines are numbered 1 to 4, not {key!r}")
            continue
        number = int(key)
        fields = reader.mapping(value, f"line {number}", ("name", "writes_to_customers")) or {}
        name = reader.string(fields["name"], f"name of line {number}") if "name" in fields else None
        writes = reader.boolean(fields["writes_to_customers"], "writes_to_customers") \
            if "writes_to_customers" in fields else None
        default = DEFAULT_LINES[number]
        lines[number] = Line(number, name or default.name,
                             default.writes_to_customers if writes is None else writes)
    return lines


def read_teams(reader: Reader, node: yaml.Node | None) -> dict[str, Team]:
    teams: dict[str, Team] = {}
    for name, value in (reader.mapping(node, "teams") or {}).items() if node is not None else ():
        team = _team(reader, name, value)
        if team is not None:
            teams[name] = team
    return teams


def _team(reader: Reader, name: str, node: yaml.Node) -> Team | None:
    fields = reader.mapping(node, f"team {name!r}", ("line", "members", "address"), required=("line",))
    if fields is None or "line" not in fields:
        return None
    line = reader.integer(fields["line"], f"line of team {name!r}", 1, 4)
    members = tuple(read_address(reader, m, f"member of team {name!r}") or "" for m in
                    reader.sequence(fields["members"], f"members of team {name!r}")) if "members" in fields else ()
    address = read_address(reader, fields["address"], f"address of team {name!r}") if "address" in fields else None
    if line is None:
        return None
    return Team(name, line, tuple(m for m in members if m), address)


def read_address(reader: Reader, node: yaml.Node, what: str) -> str | None:
    """An e-mail address, lower case; anything else is a problem."""
    text = reader.string(node, what)
    if text is None:
        return None
    if text.count("@") != 1 or " " in text or "." not in text.rpartition("@")[2]:
        reader.error(node, f"{what} must be an e-mail address, not {text!r}")
        return None
    return text.lower()
