"""`templates check`, `templates render` and `contacts set`: an admin working on the mail customers get."""

from pathlib import Path

from .helpdesk import Helpdesk
from .mailbuild import mail


def test_templates_check_passes_on_the_shipped_templates_and_names_each_problem(helpdesk: Helpdesk,
                                                                               tmp_path: Path) -> None:
    ok = helpdesk.run("templates", "check")
    assert "36 templates in 2 languages" in ok.stdout and "all render" in ok.stdout, ok.describe()

    own = tmp_path / "admin"
    (own / "email" / "en").mkdir(parents=True)
    (own / "email" / "en" / "acknowledgement.txt.j2").write_text("Hello,\nyour ticket {{ ticket.nmber }}\n")
    (own / "email" / "en" / "assigned.subject.j2").write_text("Someone took your request\n")
    helpdesk.configure(templates_dir=str(own))
    bad = helpdesk.run("templates", "check", expect=1)
    lines = bad.stdout.splitlines()
    assert any(line.startswith("en/acknowledgement: ") and "acknowledgement.txt.j2:2:" in line
               and "nmber" in line for line in lines), bad.describe()
    assert any(line.startswith("en/assigned: the subject has no ticket token") for line in lines), bad.describe()
    assert lines[-1].endswith("2 problem(s)")


def test_render_previews_a_ticket_in_its_customers_language_and_greeting(helpdesk: Helpdesk, inbox: Path) -> None:
    (inbox / "a.eml").write_bytes(mail("Принтер не печатает", sender="Анна Петрова <anna@globex.ru>",
                                       message_id="a1@globex.ru",
                                       body="Здравствуйте! Принтер в бухгалтерии не печатает с утра.\n"))
    helpdesk.ingest(inbox)

    russian = helpdesk.run("templates", "render", "acknowledgement", "--ticket", "1000")
    assert "Language: ru" in russian.stdout and "Здравствуйте, Анна Петрова!" in russian.stdout
    subject = helpdesk.run("templates", "render", "closing_request", "--ticket", "1000", "--part", "subject")
    assert subject.stdout == "Re: Принтер не печатает [#1000]\n"

    helpdesk.run("contacts", "set", "anna@globex.ru", "--salutation", "Dear Ms Petrova,", "--language", "en")
    english = helpdesk.run("templates", "render", "acknowledgement", "--ticket", "1000", "--part", "txt")
    assert english.stdout.startswith("Dear Ms Petrova,\n"), english.stdout
    shown = helpdesk.run("contacts", "show", "anna@globex.ru")
    assert "salutation Dear Ms Petrova," in shown.stdout and "language en" in shown.stdout

    bad = helpdesk.run("contacts", "set", "anna@globex.ru", "--timezone", "Mars/Olympus", expect=2)
    assert bad.stderr.count("\n") == 1 and "unknown time zone" in bad.stderr
    helpdesk.run("contacts", "set", "nobody@globex.ru", "--language", "ru", expect=1)
    missing = helpdesk.run("templates", "render", "acknowledgement", "--ticket", "4242", expect=1)
    assert "no ticket #4242" in missing.stderr
