"""The words machines put in their mail: out-of-office replies, bounces, list managers, complaints.

Every pattern here is one piece of evidence, never a verdict: ``pipeline/steps/auto_reply.py``
and ``pipeline/steps/bounce.py`` combine them (a subject and a body, a sender and a wording)
before a mail is left out of tickets, because a person may well write "Undeliverable invoice"
or "I'm out of office next week, please call Anna" to a helpdesk.
"""

import re

# Prefixes clients put on out-of-office subjects. Each must be followed by a colon, a dash, a closing
# bracket or the end: "Out of office reply not working" is a classic IT ticket, "Out of Office: ..." is not.
_OOO_PHRASES = (
    r"out of (?:the )?office", r"(?:i am|i'm) out of (?:the )?office", r"automatic reply",
    r"auto(?:matic)?[- ]?(?:reply|response)", r"autoreply", r"autoresponse", r"auto(?=\s*:)", r"vacation reply",
    r"abwesenheitsnotiz", r"automatische antwort", r"automatische rückantwort", r"au(?:ß|ss)er haus",
    r"réponse automatique", r"reponse automatique", r"absent\(e\) du bureau",
    r"автоответ", r"автоматический ответ", r"вне офиса",
    r"respuesta automática", r"respuesta automatica", r"risposta automatica", r"resposta automática",
    r"resposta automatica", r"automatisch antwoord", r"afwezigheidsbericht", r"autosvar", r"automatiskt svar",
    r"automatisk svar", r"automaattinen vastaus", r"odpowiedź automatyczna", r"automatická odpověď",
    r"otomatik yanıt", r"otomatik cevap", r"ārpus biroja", r"arpus biroja", r"automātiskā atbilde",
    r"automatiska atbilde",
    r"自动回复", r"自動回覆", r"自动答复", r"自動応答", r"自動返信", r"不在通知", r"자동 회신", r"자동 응답",
)
OOO_SUBJECT = re.compile(
    r"^\s*\[?\s*(?:" + "|".join(_OOO_PHRASES) + r")(?:\s*(?:auto ?reply|reply|response))?"
    r"(?:\s*[\]:：\-–]|\s*$)",
    re.IGNORECASE,
)

# What people's auto-responders say in the body, in the first lines.
OOO_BODY = re.compile(
    r"\b(?:i am|i'm|i will be|i'll be|i shall be)\s+(?:currently\s+|now\s+)?(?:out of (?:the )?office|away"
    r"|on (?:annual |parental |maternity |paternity |sick |business )?(?:leave|vacation|holidays?|a business trip)"
    r"|travell?ing|absent|unavailable|not in the office)"
    r"|\bout of (?:the )?office (?:until|from|till|through|and|with)\b|\blimited access to (?:my )?e-?mail"
    r"|\b(?:will|shall) (?:be )?(?:return|back)(?:ing)? (?:on|to the office|in the office)\b"
    r"|\bthis is an? automat(?:ic|ed) (?:reply|response|message|notification)"
    r"|\b(?:ich bin|bin ich)\b[^\n]{0,40}?\b(?:abwesend|nicht im (?:büro|hause?)|im urlaub|außer haus)"
    r"|\b(?:abwesend|im urlaub) (?:bis|vom|ab)\b|\bnicht im (?:büro|hause?)\b|\bnicht erreichbar\b"
    r"|\bje (?:suis|serai)\b[^\n]{0,30}?\b(?:absente?|en (?:congés?|vacances|déplacement))|\babsente? du bureau"
    r"|\b(?:estoy|estaré)\b[^\n]{0,30}?\b(?:fuera de la oficina|de vacaciones|ausente)"
    r"|\b(?:sono|sarò)\b[^\n]{0,30}?\b(?:fuori (?:ufficio|sede)|in ferie|assente)"
    r"|\b(?:ik ben|ben ik)\b[^\n]{0,30}?\b(?:afwezig|met vakantie|niet op kantoor)"
    r"|\bestou\b[^\n]{0,30}?\b(?:fora do escritório|de férias|ausente)"
    r"|(?:нахожусь|буду)[^\n]{0,30}?(?:в отпуске|в командировке|вне офиса)|\bв отпуске (?:до|с|по)\b"
    r"|\bотсутствую\b|\bвне офиса\b"
    r"|不在にして|休暇中|出張中|休假|不在办公室"
    r"|\b(?:auto(?:matic)?[- ]?reply|automatic response|autoresponder)\b",
    re.IGNORECASE,
)

BOUNCE_SUBJECT = re.compile(
    r"^\s*\[?\s*(?:undeliver(?:able|ed)|returned mail|return(?:ed|ing)? to sender|failure notice|failed mail"
    r"|mail failed"
    r"|delivery (?:status notification|failure|failed|has failed|notification|problem|report|warning|error)"
    r"|mail delivery (?:failed|failure|warning|problem|subsystem|system|error)|non[- ]?deliver|nondeliverable"
    r"|(?:mail|message|your message)? ?(?:could|can) ?not (?:be )?deliver|message not delivered"
    r"|(?:your )?message (?:was ?n[o']t|was not|not) delivered|address not found"
    r"|(?:your )?message to .{1,80}? (?:could ?n[o']t|can ?not|was ?n[o']t|has ?n[o']t) (?:be(?:en)? )?deliver"
    r"|mail system error|warning: could not send|automatically rejected|delayed mail|rejected:"
    r"|недоставленное сообщение|не удалось доставить|unzustellbar|nicht zustellbar|non recapitabile"
    r"|no se puede entregar|imposible entregar|non remis|non distribuable|échec de la remise|onbestelbaar"
    r"|.{0,20}(?:配信エラー|送信エラー|配送エラー|不達|宛先不明|届きません|送信できません|返送|エラーメール))",
    re.IGNORECASE,
)

FAILURE_WORDING = re.compile(
    r"could ?n[o']t (?:be )?deliver|unable to deliver|was ?n[o']t delivered|not be delivered"
    r"|delivery (?:has |have )?failed|delivery to the following recipients? failed"
    r"|permanent(?:ly)? (?:fatal )?error|i'm sorry to have to inform you|message could not be sent"
    r"|undeliverable|user unknown|unknown user|no such user|no such (?:recipient|address|mailbox)"
    r"|mailbox (?:unavailable|full|is full|not found|quota)|over quota|quota exceeded|address rejected"
    r"|recipient address rejected|failed recipient|returned mail|(?:has been|was) (?:postponed|delayed)"
    r"|\b5[0-5]\d[ -]\d?|\b[45]\.\d{1,3}\.\d{1,3}\b|non[- ]?delivery|host unknown|relay(?:ing)? denied"
    r"|(?:can ?not|could ?n[o']t|were not able to|not able to) (?:be )?deliver|not yet been delivered"
    r"|did not reach the following recipient|recipient (?:name )?is not recognized|invalid (?:final delivery"
    r"|mailbox|recipient|address)|delivery problems|user not (?:known|found)|exceeding (?:their |the )?quota"
    r"|mail ?box space|message was not accepted|does not have a final (?:e-?mail )?delivery"
    r"|mail delivery software|delivery attempts will continue|did not exactly match|failed mail"
    r"|(?:message|mail)\b[^\n]{0,80}?\b(?:was|has been) (?:rejected|refused|returned)"
    r"|n'a pas pu (?:être|etre) (?:délivré|delivre|remis)|невозможно доставить"
    r"|не (?:может быть|удалось) доставить|не может быть доставлено|nicht zugestellt|konnte nicht zugestellt"
    r"|存在しません|(?:配信|送信)(?:でき|に失敗)|送信でき(?:ません|なかった)|届きませんでした|宛先(?:不明|が見つかりません)",
    re.IGNORECASE,
)

# What only a mail system writes: SMTP replies and status codes, its stock phrases. Enough beside a
# bounce-like subject alone; "undeliverable" or "could not be delivered" are also words of couriers.
TECHNICAL_FAILURE = re.compile(
    r"\b[245]\.\d{1,3}\.\d{1,3}\b|\b5[0-5]\d[ -]|user unknown|unknown user|no such (?:user|recipient|mailbox)"
    r"|mailbox (?:unavailable|full|is full|not found|quota)|recipient address rejected|over quota|quota exceeded"
    r"|delivery to the following recipients? (?:failed|has failed)|permanent(?:ly)? (?:fatal )?error"
    r"|mail delivery software|delivery attempts will continue|i'm sorry to have to inform you"
    r"|host unknown|relay(?:ing)? denied|remote (?:server|host) (?:said|replied|returned)",
    re.IGNORECASE,
)

# A mailing-list manager's answer about a post: held, refused, or the list's own errors.
LIST_REJECTION = re.compile(
    r"awaits moderator|requires (?:moderator )?approval|held for (?:moderat|approv)|post(?:ing)? to (?:a )?"
    r"(?:moderated|restricted|members[- ]only)|not a member|non-?member|(?:message|post(?:ing)?) (?:was )?"
    r"(?:rejected|refused|not accepted|discarded|auto-discard)|authori[sz]ation denied|not allowed to post"
    r"|(?:was ?n[o']t|not) (?:been )?posted|you are not (?:allowed|permitted|subscribed)"
    r"|moderation (?:request|queue)",
    re.IGNORECASE,
)

# A complaint about a message (spam report, abuse desk), in subjects of providers without ARF.
COMPLAINT_SUBJECT = re.compile(
    r"\b(?:complaint|abuse report|spam report|spam complaint|feedback report|reported (?:as|for) (?:spam|abuse)"
    r"|scomp|fbl)\b",
    re.IGNORECASE,
)
