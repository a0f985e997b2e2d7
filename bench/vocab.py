"""Word lists for the synthetic corpus: five languages, each with the charsets its mail arrives in.

Only characters every listed charset can encode are used (no em dashes, no "№", no
half-width katakana), so each language's text round-trips through all its charsets.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    charsets: tuple[tuple[str, int], ...]  # (charset, weight)
    tz_offsets: tuple[int, ...]  # minutes east of UTC
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    words: tuple[str, ...]  # joined with spaces, or without when ``spaced`` is False
    subjects: tuple[str, ...]  # templates with {n} (a number) and {thing}
    things: tuple[str, ...]
    greetings: tuple[str, ...]
    closings: tuple[str, ...]
    titles: tuple[str, ...]
    reply_prefixes: tuple[str, ...]
    ooo_prefixes: tuple[str, ...]
    attachment_names: tuple[str, ...]
    spaced: bool = True
    full_stop: str = "."


EN = Language(
    code="en",
    charsets=(("us-ascii", 3), ("utf-8", 7)),
    tz_offsets=(0, 60, -300, -240, -480, 330),
    first_names=("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
                 "Elizabeth", "William", "Susan", "Richard", "Jessica", "Thomas", "Sarah", "Daniel", "Karen"),
    last_names=("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
                "Taylor", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark"),
    words=("the", "invoice", "account", "we", "cannot", "access", "portal", "since", "yesterday", "please",
           "check", "order", "delivery", "was", "late", "again", "our", "team", "needs", "a", "refund",
           "for", "license", "renewal", "error", "message", "when", "uploading", "report", "server",
           "returns", "timeout", "could", "you", "confirm", "status", "of", "request", "users", "are",
           "blocked", "after", "update", "contract", "payment", "reference", "attached", "screenshot"),
    subjects=("Invoice {n} is incorrect", "Cannot log in to the portal", "Question about order {n}",
              "Refund for {thing}", "Urgent: {thing} is down", "License renewal for {thing}",
              "Delivery {n} has not arrived", "Error when exporting {thing}", "Access request for {thing}",
              "Billing question", "Problem with {thing} after update", "Feature request: {thing}"),
    things=("the dashboard", "our API key", "the mobile app", "SSO", "the reporting module",
            "the warehouse sync", "invoices", "the EU tenant", "user accounts"),
    greetings=("Hello,", "Hi team,", "Dear support,", "Good morning,", "Hi,"),
    closings=("Thanks,", "Best regards,", "Kind regards,", "Cheers,", "Thank you,"),
    titles=("Operations Manager", "IT Administrator", "Head of Finance", "Procurement", "CTO"),
    reply_prefixes=("Re: ", "RE: ", "Re: ", "Re: Re: "),
    ooo_prefixes=("Out of Office: ", "Automatic reply: ", "Autoreply: "),
    attachment_names=("screenshot", "invoice", "report", "contract", "export", "logs"),
)

DE = Language(
    code="de",
    charsets=(("iso-8859-1", 6), ("utf-8", 4)),
    tz_offsets=(60, 120),
    first_names=("Jürgen", "Günter", "Anna", "Lukas", "Sophie", "Matthias", "Jörg", "Käthe", "Björn", "Lena"),
    last_names=("Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Schäfer", "Größer", "Köhler", "Bauer"),
    words=("die", "Rechnung", "ist", "leider", "falsch", "wir", "können", "uns", "nicht", "anmelden",
           "bitte", "prüfen", "Sie", "den", "Auftrag", "Lieferung", "verspätet", "größer", "Fehler",
           "beim", "Hochladen", "über", "das", "Portal", "Zugang", "gesperrt", "seit", "gestern", "für",
           "unsere", "Abteilung", "Rückerstattung", "Verlängerung", "Lizenz", "schnell", "möglich"),
    subjects=("Rechnung {n} ist fehlerhaft", "Zugang zum Portal gesperrt", "Frage zur Bestellung {n}",
              "Rückerstattung für {thing}", "Dringend: {thing} funktioniert nicht", "Lieferung {n} fehlt"),
    things=("das Dashboard", "die Schnittstelle", "die App", "Rechnungen", "Benutzerkonten"),
    greetings=("Hallo,", "Sehr geehrte Damen und Herren,", "Guten Tag,", "Liebes Support-Team,"),
    closings=("Mit freundlichen Grüßen", "Viele Grüße", "Beste Grüße", "Danke und Grüße"),
    titles=("Leiter IT", "Einkauf", "Buchhaltung", "Geschäftsführer"),
    reply_prefixes=("AW: ", "Re: ", "WG: ", "Aw: "),
    ooo_prefixes=("Abwesenheitsnotiz: ", "Automatische Antwort: "),
    attachment_names=("Rechnung", "Bildschirmfoto", "Übersicht", "Bericht", "Vertrag"),
)

FR = Language(
    code="fr",
    charsets=(("iso-8859-1", 5), ("utf-8", 5)),
    tz_offsets=(60, 120),
    first_names=("Amélie", "François", "Hélène", "Jérôme", "Céline", "Benoît", "Zoé", "Loïc"),
    last_names=("Dupont", "Lefèvre", "Girard", "Bérenger", "Moreau", "Faure", "Rousseau", "Mercier"),
    words=("la", "facture", "est", "incorrecte", "nous", "ne", "pouvons", "pas", "accéder", "au", "portail",
           "depuis", "hier", "merci", "de", "vérifier", "commande", "livraison", "retardée", "erreur",
           "lors", "du", "téléchargement", "compte", "bloqué", "après", "mise", "à", "jour", "réponse"),
    subjects=("Facture {n} incorrecte", "Impossible d'accéder au portail", "Question sur la commande {n}",
              "Remboursement pour {thing}", "Urgent : {thing} ne répond plus"),
    things=("le tableau de bord", "l'API", "l'application", "les factures", "le module de rapports"),
    greetings=("Bonjour,", "Madame, Monsieur,", "Bonjour à tous,"),
    closings=("Cordialement,", "Bien à vous,", "Merci d'avance,"),
    titles=("Responsable IT", "Service achats", "Comptabilité", "Directeur général"),
    reply_prefixes=("RE: ", "Re: ", "TR: "),
    ooo_prefixes=("Réponse automatique : ", "Absence du bureau : "),
    attachment_names=("facture", "capture d'écran", "relevé", "contrat"),
)

RU = Language(
    code="ru",
    charsets=(("koi8-r", 3), ("windows-1251", 4), ("utf-8", 3)),
    tz_offsets=(180, 300, 420),
    first_names=("Иван", "Мария", "Алексей", "Елена", "Дмитрий", "Ольга", "Сергей", "Наталья", "Андрей"),
    last_names=("Иванов", "Петрова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Лебедев", "Козлова"),
    words=("счёт", "выставлен", "неверно", "мы", "не", "можем", "войти", "в", "личный", "кабинет", "с",
           "вчерашнего", "дня", "прошу", "проверить", "заказ", "доставка", "задерживается", "ошибка",
           "при", "загрузке", "отчёта", "сервер", "возвращает", "таймаут", "пользователи", "заблокированы",
           "после", "обновления", "договор", "оплата", "срочно", "пожалуйста", "ответьте"),
    subjects=("Счёт {n} выставлен неверно", "Не можем войти в личный кабинет", "Вопрос по заказу {n}",
              "Возврат средств за {thing}", "Срочно: не работает {thing}", "Доставка {n} не пришла"),
    things=("отчёт", "API", "мобильное приложение", "интеграция", "выгрузка"),
    greetings=("Здравствуйте!", "Добрый день!", "Коллеги, добрый день."),
    closings=("С уважением,", "Спасибо,", "Заранее спасибо,"),
    titles=("Системный администратор", "Бухгалтерия", "Отдел закупок", "Генеральный директор"),
    reply_prefixes=("Re: ", "RE: ", "Ответ: ", "Re[2]: "),
    ooo_prefixes=("Автоответ: ", "Нет на месте: "),
    attachment_names=("счёт", "скриншот", "акт сверки", "договор", "отчёт"),
)

JA = Language(
    code="ja",
    charsets=(("iso-2022-jp", 6), ("utf-8", 4)),
    tz_offsets=(540,),
    first_names=("太郎", "花子", "健", "美咲", "翔太", "陽菜"),
    last_names=("山田", "佐藤", "鈴木", "高橋", "田中", "伊藤"),
    words=("請求書の金額が", "間違っています", "ポータルに", "ログインできません", "ご確認ください",
           "注文について", "質問があります", "配送が", "遅れています", "エラーが", "発生しました",
           "昨日から", "アカウントが", "ロックされました", "至急", "対応をお願いします", "よろしく"),
    subjects=("請求書 {n} の件", "ポータルにログインできません", "注文 {n} について", "{thing}の不具合"),
    things=("管理画面", "API", "アプリ", "レポート"),
    greetings=("お世話になっております。",),
    closings=("よろしくお願いいたします。",),
    titles=("情報システム部", "経理部", "購買部"),
    reply_prefixes=("Re: ", "RE: "),
    ooo_prefixes=("自動応答: ", "不在: "),
    attachment_names=("請求書", "スクリーンショット", "報告書"),
    spaced=False,
    full_stop="。",
)

LANGUAGES: tuple[tuple[Language, int], ...] = ((EN, 45), (DE, 15), (FR, 10), (RU, 20), (JA, 10))

TLDS: dict[str, tuple[str, ...]] = {
    "en": ("com", "co.uk", "io", "net", "com.au"),
    "de": ("de", "at", "ch", "com"),
    "fr": ("fr", "be", "com"),
    "ru": ("ru", "com", "su"),
    "ja": ("co.jp", "jp", "com"),
}
FREEMAIL: dict[str, tuple[str, ...]] = {
    "en": ("gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "icloud.com", "aol.com"),
    "de": ("gmx.de", "web.de", "t-online.de", "gmail.com"),
    "fr": ("orange.fr", "free.fr", "laposte.net", "gmail.com"),
    "ru": ("mail.ru", "yandex.ru", "bk.ru", "rambler.ru", "gmail.com"),
    "ja": ("yahoo.co.jp", "gmail.com", "docomo.ne.jp"),
}
SYLLABLES = ("ac", "me", "glo", "bex", "tron", "vor", "nex", "sta", "lin", "qua", "dra", "pol", "ka", "zen",
             "ori", "tek", "mar", "sol", "vel", "pro", "fin", "ex", "ima", "cor", "ton", "ber", "gal")
SUBDOMAINS = ("eu", "us", "mail", "corp", "de", "ru", "branch", "sales", "hq")
MAILERS = ("Microsoft Outlook 16.0", "Apple Mail (2.3731.600.7)", "Mozilla Thunderbird 115.8",
           "Roundcube Webmail/1.6.6", "The Bat! (v10.5.3) Professional", "Becky! ver. 2.81.05")
