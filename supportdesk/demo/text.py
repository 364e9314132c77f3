"""The words of the demo help desk: people, places and the mail they write.

Kept apart from `demo.py` so the builder reads as a story and this file as a script. Template
slots such as `{order}` are filled by the builder from one set of values per ticket, so a
thread keeps talking about the same order. Every name, domain and address is invented; company
domains use the reserved `.example` top-level domain.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Texts:
    """Alternatives for one moment in a conversation, in English and in Japanese."""

    en: tuple[str, ...]
    ja: tuple[str, ...]

    def of(self, lang: str) -> tuple[str, ...]:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True)
class Family:
    """One kind of conversation a queue sees often, from first mail to resolution.

    Alternatives line up by position: a ticket picks one variant and takes the subject, the
    opening, the first reply and the first follow-ups at that position (wrapping round where a
    list is shorter), so the answer fits the question.
    """

    key: str
    queue: str
    tags: tuple[str, ...]
    subjects: Texts
    openings: Texts
    agent_first: Texts
    customer_more: Texts
    customer_thanks: Texts
    agent_more: Texts
    resolution: Texts
    notes: tuple[str, ...]
    usual_priority: str = "normal"


SUPPORT_DOMAIN = "supportdesk.example"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    description: str
    address: str


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("billing", "Payments, refunds, invoices and subscriptions.", "billing"),
    QueueSpec("technical", "Bugs, API errors and help with the apps.", "support"),
    QueueSpec("accounts", "Logins, two-factor authentication and account changes.", "accounts"),
    QueueSpec("shipping", "Deliveries, damaged items and address changes.", "shipping"),
)
QUARANTINE = QueueSpec(
    "quarantine",
    "Auto-replies, bounces and other robot mail, kept out of the agents' way.",
    "support",
)


@dataclass(frozen=True)
class AgentSpec:
    handle: str
    name: str
    signature: str
    queues: tuple[str, ...]
    greeting_name: str


AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec(
        "alice",
        "Alice Martin",
        "Alice Martin\nTeam lead, Customer Support\nSupportdesk Example · help.supportdesk.example",
        ("billing", "accounts", "quarantine"),
        "Alice",
    ),
    AgentSpec(
        "bob",
        "Bob Okafor",
        "Bob Okafor\nCustomer Support\nSupportdesk Example · help.supportdesk.example",
        ("billing", "technical", "shipping"),
        "Bob",
    ),
    AgentSpec(
        "chen",
        "Chen Wei",
        "Chen Wei\nTechnical Support Engineer\nSupportdesk Example · status.supportdesk.example",
        ("technical", "shipping"),
        "Chen",
    ),
    AgentSpec(
        "dana",
        "Dana Kowalski",
        "Dana Kowalski\nBilling & Accounts\nSupportdesk Example · help.supportdesk.example",
        ("billing", "accounts"),
        "Dana",
    ),
    AgentSpec(
        "emeka",
        "Emeka Nwosu",
        "Emeka Nwosu\nCustomer Support\nSupportdesk Example · help.supportdesk.example",
        ("technical", "shipping"),
        "Emeka",
    ),
    AgentSpec(
        "fumiko",
        "Fumiko Tanaka",
        "田中 文子 (Fumiko Tanaka)\nカスタマーサポート / Customer Support\nSupportdesk Example",
        ("billing", "technical", "accounts", "shipping"),
        "Fumiko",
    ),
)
JAPANESE_SPEAKER = "fumiko"
LEAD = "alice"

EN_GIVEN = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isla", "James",
    "Ava", "Lucas", "Mia", "Henry", "Grace", "Jack", "Chloe", "Samuel", "Zoe", "Daniel",
    "Hannah", "Matthew", "Ruby", "Thomas", "Priya", "Arjun", "Fatima", "Omar", "Sofia", "Mateo",
    "Ingrid", "Lars", "Chiara", "Marco", "Aisha", "Kwame", "Nadia", "Pavel", "Elena", "João",
)  # fmt: skip
EN_FAMILY = (
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Roberts", "Walker",
    "Wright", "Robinson", "Thompson", "White", "Hughes", "Green", "Hall", "Clarke", "Patel",
    "Khan", "Müller", "Schmidt", "Rossi", "Bianchi", "García", "Martínez", "Novak", "Kowalczyk",
    "Larsen", "Andersen", "Mensah", "O'Brien", "Murphy", "Silva", "Costa", "Dubois", "Moreau",
    "Kim", "Nguyen", "Fischer", "Byrne",
)  # fmt: skip
# (kanji, romaji): addresses are romanised, display names are not.
JA_FAMILY = (
    ("山田", "yamada"), ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"),
    ("田中", "tanaka"), ("伊藤", "ito"), ("渡辺", "watanabe"), ("中村", "nakamura"),
    ("小林", "kobayashi"), ("加藤", "kato"), ("吉田", "yoshida"), ("山本", "yamamoto"),
    ("松本", "matsumoto"), ("井上", "inoue"), ("木村", "kimura"), ("林", "hayashi"),
    ("清水", "shimizu"), ("山口", "yamaguchi"), ("森", "mori"), ("池田", "ikeda"),
)  # fmt: skip
JA_GIVEN = (
    ("太郎", "taro"), ("花子", "hanako"), ("翔太", "shota"), ("美咲", "misaki"),
    ("健一", "kenichi"), ("陽菜", "hina"), ("大輔", "daisuke"), ("さくら", "sakura"),
    ("拓也", "takuya"), ("由美", "yumi"), ("直樹", "naoki"), ("恵", "megumi"), ("誠", "makoto"),
    ("彩", "aya"), ("亮", "ryo"), ("真由美", "mayumi"), ("浩二", "koji"), ("裕子", "yuko"),
    ("蓮", "ren"), ("結衣", "yui"),
)  # fmt: skip

EN_ORG_DOMAINS = (
    "northwind-traders.example", "acme-robotics.example", "bluefin-analytics.example",
    "harbour-coffee.example", "pinecrest-dental.example", "orbital-media.example",
    "greenleaf-grocers.example", "quantum-ledger.example", "riverside-clinic.example",
    "summit-outdoor.example", "lumen-labs.example", "atlas-logistics.example",
    "copperpot-bakery.example", "nimbus-software.example", "redwood-legal.example",
    "silverline-travel.example", "brightpath-schools.example", "ferro-engineering.example",
    "meridian-hotels.example", "tidewater-marine.example", "oakridge-college.example",
    "velvet-fashion.example",
)  # fmt: skip
# (domain, how its people write the company name in Japanese)
JA_ORG_DOMAINS = (
    ("sakura-denki.example", "さくら電機"), ("fujimoto-shoji.example", "藤本商事"),
    ("minato-bussan.example", "みなと物産"), ("hikari-soft.example", "ひかりソフト"),
    ("midori-foods.example", "みどりフーズ"), ("yamato-kogyo.example", "やまと工業"),
    ("asahi-design.example", "あさひデザイン"), ("tsubame-works.example", "つばめワークス"),
)  # fmt: skip
VIP_DOMAINS = frozenset(
    {
        "acme-robotics.example",
        "quantum-ledger.example",
        "meridian-hotels.example",
        "sakura-denki.example",
    }
)
EN_FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me")
JA_FREE_MAIL = ("gmail.com", "yahoo.co.jp", "docomo.ne.jp", "icloud.com")

# Values for template slots, as (English, Japanese) pairs where the wording differs.
PRODUCTS = (
    ("Aurora desk lamp", "オーロラ デスクライト"),
    ("Nordic standing desk", "ノルディック スタンディングデスク"),
    ("Breeze tower fan", "ブリーズ タワーファン"),
    ("Atlas office chair", "アトラス オフィスチェア"),
    ("Pebble wireless speaker", "ペブル ワイヤレススピーカー"),
    ("Summit hiking backpack", "サミット ハイキングリュック"),
    ("Kettle Pro 1.7 l", "ケトル プロ 1.7L"),
    ("Orbit webcam", "オービット ウェブカメラ"),
)
CITIES = (
    ("Manchester", "大阪"),
    ("Rotterdam", "名古屋"),
    ("Leipzig", "福岡"),
    ("Lyon", "札幌"),
    ("Denver", "仙台"),
    ("Toronto", "横浜"),
)
STREETS = ("14 Station Road", "221 Harbour Street", "7 Linden Avenue", "38 Mill Lane")
ENDPOINTS = ("/v2/orders", "/v2/customers", "/v2/invoices", "/v2/webhooks", "/v2/products")
HTTP_ERRORS = ("500", "502", "503", "429", "504")
APP_VERSIONS = ("4.2.0", "4.2.1", "4.3.0", "4.3.2", "5.0.0")
COMPANY_RENAMES = ("Northwind Holdings Ltd", "Bluefin Data GmbH", "Harbour & Co. Coffee")
EN_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
CURRENCIES = ("€", "£", "$")

# How people open and close their mail.
EN_HELLO_FIRST = (
    "Hi,",
    "Hello,",
    "Hi there,",
    "Dear support team,",
    "Hello support,",
    "Good morning,",
)
EN_HELLO_AGAIN = ("Hi {agent_first},", "Hello {agent_first},", "Hi again,", "Thanks {agent_first},")
EN_CLOSING = ("Thanks,", "Best regards,", "Cheers,", "Kind regards,", "Many thanks,", "Thank you,")
JA_HELLO_FIRST = (
    "サポートご担当者様\n\nお世話になっております。{family}と申します。",
    "ご担当者様\n\nいつもお世話になっております。{org_ja}の{family}です。",
)
JA_HELLO_AGAIN = (
    "{agent_family} 様\n\nご連絡ありがとうございます。{family}です。",
    "{agent_family} 様\n\nお世話になっております。{family}です。",
)
JA_CLOSING = ("よろしくお願いいたします。", "何卒よろしくお願い申し上げます。")
EN_AGENT_HELLO = ("Hi {greet},", "Hello {greet},", "Dear {greet},")
JA_AGENT_HELLO = (
    "{greet} 様\n\nいつもご利用いただきありがとうございます。",
    "{greet} 様\n\nお問い合わせいただきありがとうございます。",
)
EN_QUOTE_INTRO = "On {date}, {name} <{address}> wrote:"
JA_QUOTE_INTRO = "{date} {name} <{address}>:"

ANGRY = Texts(
    en=(
        "This is the third time I've written about this and I'm getting really frustrated.",
        "Frankly this is unacceptable. If it isn't sorted out today I'm cancelling.",
        "I've been a customer for six years and have never been treated like this.",
    ),
    ja=(
        "何度も問い合わせているのに解決せず、非常に困っています。",
        "本日中にご対応いただけない場合は、解約も検討いたします。",
    ),
)
CUSTOMER_CHASE = Texts(
    en=(
        "Any update on this? I haven't heard anything for a few days.",
        "Just following up on my last message — is anyone looking at this?",
        "Sorry to chase, but this is still a problem for us.",
    ),
    ja=(
        "その後の状況はいかがでしょうか。",
        "先日の件、まだ解決しておりません。ご確認いただけますでしょうか。",
    ),
)
CUSTOMER_THANKS = Texts(
    en=(
        "That fixed it, thank you!",
        "Perfect, thanks for the quick help.",
        "All good now. Thanks for sorting it out.",
    ),
    ja=(
        "解決しました。ご対応ありがとうございました。",
        "迅速なご対応に感謝いたします。",
    ),
)
AGENT_CHASE = Texts(
    en=(
        "Just checking in: did the steps above help? If I don't hear back I'll assume all is well.",
        "I'm still waiting to hear back from the team and will update you as soon as I can.",
    ),
    ja=(
        "その後いかがでしょうか。ご不明な点がございましたらお知らせください。",
        "現在担当部署に確認中です。分かり次第ご連絡いたします。",
    ),
)
AUTO_REPLY = Texts(
    en=(
        "Thank you for your email. I am out of the office until {date} with limited access to "
        "email. For anything urgent please contact the office on the usual number.",
        "I'm away on annual leave and will reply when I'm back on {date}. Your message has not "
        "been forwarded.",
    ),
    ja=(
        "ご連絡ありがとうございます。{date}まで不在にしております。戻り次第、順次対応いたします。",
    ),
)
GENERIC_NOTES = (
    "Customer also phoned about this; told them we're on it.",
    "Checked the account history: nothing unusual apart from this.",
    "Long-standing customer — worth a little extra care.",
    "Asked {lead} to keep an eye on this one.",
)

REFUND = Family(
    key="refund",
    queue="billing",
    tags=("refund",),
    subjects=Texts(
        en=(
            "Refund for order {order}",
            "Request a refund – charged for a plan I don't use",
            "Money back for the {product}?",
        ),
        ja=("注文 {order} の返金について", "返金のお願い"),
    ),
    openings=Texts(
        en=(
            "I ordered the {product} on {date} (order {order}) but had to send it back because "
            "it didn't fit my desk. The tracking says it reached your warehouse last week, but "
            "I still haven't seen the refund of {amount}. Could you check what is holding it up?",
            "My annual plan renewed automatically on {date} and I was charged {amount}, even "
            "though I stopped using the service months ago. I'd like to cancel and get the "
            "renewal refunded. I haven't logged in since it renewed.",
            "Order {order} arrived in the wrong colour. I'd rather have my money back than wait "
            "for a replacement. What do I need to do to get a refund of {amount}?",
        ),
        ja=(
            "{date}に注文した{product}（注文番号 {order}）を返品しました。追跡情報では先週倉庫に"
            "到着しているようですが、まだ{amount}の返金が確認できません。状況を確認していただけ"
            "ますでしょうか。",
            "年間プランが{date}に自動更新され、{amount}が請求されました。しばらく利用して"
            "いないため、解約と返金をお願いしたいです。更新後は一度もログインしていません。",
        ),
    ),
    agent_first=Texts(
        en=(
            "Thanks for getting in touch. I can see the return for order {order} was scanned in "
            "at our warehouse, so you're due a full refund. I've asked our payments team to "
            "release {amount} to the card ending {last4}; it usually shows up within 5 to 7 "
            "business days.",
            "Sorry about the surprise renewal. I've cancelled the plan so it won't renew again. "
            "Before I can refund the charge, could you confirm the last four digits of the card "
            "that was charged?",
            "Sorry about the mix-up. I've emailed you a prepaid return label for order {order}; "
            "as soon as the carrier scans the parcel I'll refund {amount} to the card ending "
            "{last4}.",
        ),
        ja=(
            "返品された商品（注文番号 {order}）が倉庫に到着していることを確認いたしました。"
            "{amount}を末尾{last4}のカードへ返金する手続きを進めております。反映まで5〜7営業日"
            "ほどかかる場合がございます。",
            "ご不便をおかけし申し訳ございません。プランの自動更新を停止いたしました。返金手続きの"
            "ため、ご請求のあったカード番号の下4桁をお知らせいただけますでしょうか。",
        ),
    ),
    customer_more=Texts(
        en=(
            "It's been a week now and the refund still isn't on my statement. Is there a "
            "reference number I can give my bank?",
            "The card ends in {last4}. Please go ahead.",
        ),
        ja=(
            "一週間経ちましたが、まだ明細に返金が反映されていません。銀行に伝えられる参照番号"
            "などはありますか。",
            "カード番号の下4桁は{last4}です。よろしくお願いします。",
        ),
    ),
    customer_thanks=Texts(
        en=("The refund came through this morning. Thanks for your help!",),
        ja=("本日返金を確認できました。ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "The refund was sent on {date} with reference RF-{ref}. Banks sometimes take a few "
            "extra days to show it; if it hasn't appeared by the end of the week, that reference "
            "is what they'll ask for.",
        ),
        ja=(
            "返金は{date}に処理済みです（参照番号 RF-{ref}）。カード会社によっては反映に数日"
            "かかることがございます。",
        ),
    ),
    resolution=Texts(
        en=(
            "Good news: the refund of {amount} has been processed and should be on your "
            "statement shortly. I'll mark this ticket as solved, but just reply if anything "
            "looks off.",
        ),
        ja=(
            "{amount}の返金手続きが完了いたしました。明細への反映までしばらくお待ちください。"
            "ご不明な点がございましたら、このメールにご返信ください。",
        ),
    ),
    notes=(
        "Return scanned at the warehouse on {date}. Refund approved up to {amount}.",
        "Second refund for this customer this year — fine to approve, flag it if there's a third.",
        "Payments team says card refunds are batching late this week.",
    ),
)

INVOICE = Family(
    key="invoice",
    queue="billing",
    tags=("invoice",),
    subjects=Texts(
        en=(
            "Need a copy of invoice {invoice}",
            "Invoice for {month} is missing our VAT number",
            "Can you change the company name on our invoices?",
        ),
        ja=("請求書 {invoice} の再発行のお願い", "請求書の登録番号について"),
    ),
    openings=Texts(
        en=(
            "Our finance team needs a copy of invoice {invoice} for the audit, but the download "
            "link on the billing page gives an error. Could you send it as a PDF?",
            "The invoices we get don't show our VAT number, so our accountant can't reclaim the "
            "tax. The number is GB{vat}. Could you add it and reissue everything from {month}?",
            "We changed our registered company name last month. Can future invoices say "
            "{company} instead of the old name? Ideally {invoice} would be reissued too.",
        ),
        ja=(
            "監査のため請求書 {invoice} の写しが必要なのですが、請求ページのダウンロードリンクが"
            "エラーになります。PDFでお送りいただけますでしょうか。",
            "経理から、請求書に適格請求書発行事業者の登録番号が記載されているか確認するよう依頼"
            "がありました。{month}分の請求書について教えてください。",
        ),
    ),
    agent_first=Texts(
        en=(
            "I've attached a fresh copy of invoice {invoice} to this reply. The download error is "
            "a known problem with older invoices and our developers are working on it.",
            "I've added the VAT number to your billing profile, so every invoice from now on will "
            "show it. I'm reissuing the invoices from {month} now; they'll arrive separately "
            "within the hour.",
            "I've changed the company name on your billing profile to {company} and reissued "
            "{invoice} with the new name; it's attached to this reply.",
        ),
        ja=(
            "請求書 {invoice} を再発行し、本メールに添付いたしました。古い請求書のダウンロードで"
            "エラーが発生する不具合は現在修正中です。",
            "{month}分以降の請求書には登録番号を記載しております。登録番号入りの請求書を再発行し、"
            "本メールに添付いたしました。",
        ),
    ),
    customer_more=Texts(
        en=(
            "Received, thank you. Could you also send the one for the month before? Our auditor "
            "wants both.",
            "Thanks. The reissued invoice still shows our old address in the footer, though. "
            "Can you change that as well?",
        ),
        ja=("ありがとうございます。念のため前月分もお送りいただけますか。",),
    ),
    customer_thanks=Texts(
        en=("That's everything our auditor needed. Thanks!",),
        ja=("必要な書類がすべて揃いました。ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "Here is the invoice for the previous month as well.",
            "The footer address comes from the billing profile, which I've now updated. Here is "
            "the corrected copy.",
        ),
        ja=("前月分の請求書も添付いたしました。ご確認ください。",),
    ),
    resolution=Texts(
        en=(
            "All the invoices you asked for have been reissued with the corrected details. "
            "I'll close this one off now.",
        ),
        ja=("ご依頼の請求書はすべて再発行いたしました。本件はこれにて完了とさせていただきます。",),
    ),
    notes=(
        "Invoice PDF download fails for invoices before {month} — known bug, see technical queue.",
        "VAT number checked against VIES: valid.",
    ),
)

DOUBLE_CHARGE = Family(
    key="double-charge",
    queue="billing",
    tags=("billing-error",),
    subjects=Texts(
        en=(
            "Charged twice for the same order",
            "Double charge on my card",
            "Why was I billed {amount} two times?",
        ),
        ja=("二重請求されています", "同じ注文で2回引き落とされました"),
    ),
    openings=Texts(
        en=(
            "I placed order {order} yesterday and my bank shows two identical charges of "
            "{amount}. I only clicked the pay button once. Please refund the duplicate as soon "
            "as possible.",
            "This month's subscription was taken twice from the card ending {last4}. That's the "
            "second time this has happened this year.",
        ),
        ja=(
            "昨日注文（{order}）をしたところ、カードに{amount}が2回請求されていました。支払い"
            "ボタンは1回しか押していません。重複分の返金をお願いします。",
        ),
    ),
    agent_first=Texts(
        en=(
            "I'm sorry about that. I can see two payment attempts for order {order}: the first "
            "timed out on our side but the bank captured it anyway. I've voided the duplicate; "
            "the hold of {amount} should drop off within a few days.",
            "You're right, the renewal was charged twice because of a retry on our side. I've "
            "refunded the second charge and noted your account so it can't happen again.",
        ),
        ja=(
            "ご迷惑をおかけし申し訳ございません。注文 {order} の決済が2回記録されていることを確認"
            "しました。重複分はキャンセル済みで、数日以内にカード明細から消える見込みです。",
        ),
    ),
    customer_more=Texts(
        en=(
            "The duplicate is still pending on my account. My bank says it's up to you to "
            "release it.",
        ),
        ja=("まだカード明細に2件表示されています。",),
    ),
    customer_thanks=Texts(
        en=("The second charge has gone from my statement. Thanks.",),
        ja=("重複分が明細から消えていることを確認しました。ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "I checked with our payment provider: the void went through on {date}. The bank "
            "should release the hold automatically; if they need proof, quote reference VD-{ref}.",
        ),
        ja=(
            "決済代行会社に確認したところ、{date}にキャンセル処理が完了しております（参照番号 "
            "VD-{ref}）。",
        ),
    ),
    resolution=Texts(
        en=("The duplicate charge has now been reversed. Apologies again for the trouble.",),
        ja=(
            "重複請求の取り消しが完了いたしました。このたびはご迷惑をおかけし申し訳ございません"
            "でした。",
        ),
    ),
    notes=(
        "Payment provider log shows two captures 3 seconds apart — same retry bug as last month.",
        "Voided the duplicate capture, ref VD-{ref}.",
    ),
    usual_priority="high",
)

API_ERRORS = Family(
    key="api-errors",
    queue="technical",
    tags=("bug", "api"),
    subjects=Texts(
        en=(
            "API returns {code} on {endpoint}",
            "Intermittent {code} errors from the API since this morning",
            "Webhooks stopped arriving",
        ),
        ja=("APIで{code}エラーが発生します", "{endpoint} が断続的に失敗します"),
    ),
    openings=Texts(
        en=(
            "Since about {time} UTC every POST to {endpoint} returns HTTP {code}. The same "
            "request worked fine yesterday. Request id from the response header: req_{ref}. "
            "This is blocking our checkout.",
            "Roughly one in ten calls to {endpoint} fails with {code}. Retrying usually works, "
            "but our nightly sync now takes hours. Has something changed on your side?",
            "Our webhook endpoint hasn't received any events since {date}. The endpoint is up "
            "and returns 200 when we test it by hand. Did our subscription get disabled?",
        ),
        ja=(
            "本日{time}（UTC）頃から、{endpoint} へのPOSTリクエストがすべてHTTP {code}を返して"
            "います。昨日までは同じリクエストで正常に動作していました。リクエストID: req_{ref}",
            "{endpoint} への呼び出しのうち約1割が{code}エラーで失敗します。リトライすると成功"
            "することが多いのですが、夜間の同期処理に時間がかかっています。",
        ),
    ),
    agent_first=Texts(
        en=(
            "Thanks for the request id, that made it easy to find. The {code} responses came "
            "from a deploy that went out this morning; we've rolled it back and the error rate "
            "is back to normal. Could you retry and let me know if you still see failures?",
            "I've passed this to our engineers with your request ids. Could you tell me which "
            "API version your client sends, and roughly how many requests a minute you make?",
            "Your webhook subscription was switched off automatically after your endpoint timed "
            "out repeatedly on {date}. I've turned it back on and replayed the events since then.",
        ),
        ja=(
            "リクエストIDをお知らせいただきありがとうございます。本日午前のリリースが原因である"
            "ことが判明し、現在はロールバック済みです。お手数ですが、再度お試しいただけます"
            "でしょうか。",
        ),
    ),
    customer_more=Texts(
        en=(
            "Retried and it works now. Will there be a write-up of what happened?",
            "We're on API version 2024-01 and make about 300 requests a minute at peak. The "
            "errors are still happening — less often, but not gone.",
        ),
        ja=("まだ時々エラーが発生しています。ピーク時は毎分300リクエスト程度です。",),
    ),
    customer_thanks=Texts(
        en=("No errors overnight. Thanks for the fast turnaround.",),
        ja=("夜間もエラーは発生していません。迅速なご対応ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "Yes, we'll publish a post-incident note on the status page within two working days.",
            "Engineering found a second cause: a rate limiter that was too strict for bursts "
            "above 250 requests a minute. The fix ships tomorrow morning; I'll let you know "
            "when it's out.",
        ),
        ja=(
            "原因となった不具合の修正は明日リリース予定です。リリース後にあらためてご連絡いたします。",
        ),
    ),
    resolution=Texts(
        en=(
            "The fix is live and the error rate for {endpoint} has been at zero since. Thanks "
            "for your patience and the detailed reports.",
        ),
        ja=(
            "修正版をリリースいたしました。以降、{endpoint} のエラーは発生しておりません。"
            "ご協力ありがとうございました。",
        ),
    ),
    notes=(
        "Lines up with deploy 4f2a at {time} UTC. Rolled back.",
        "Escalated to the platform team as INC-{ref}.",
        "Enterprise plan — keep them posted without waiting to be asked.",
    ),
    usual_priority="high",
)

APP_BUG = Family(
    key="app-bug",
    queue="technical",
    tags=("bug",),
    subjects=Texts(
        en=(
            "App crashes when exporting to CSV",
            "Dashboard shows the wrong totals",
            "Sync stuck at 99% after updating to {version}",
        ),
        ja=("CSVエクスポートでアプリが落ちます", "アップデート後に同期が止まります"),
    ),
    openings=Texts(
        en=(
            "Every time I export the report to CSV the desktop app ({version}) closes without "
            "any message. Smaller date ranges work. I'm on Windows 11.",
            "The dashboard total for last month says {amount}, but adding up the rows by hand "
            "gives a different number. Is the dashboard rounding, or are some rows missing?",
            "The mobile app has been stuck on 'Syncing… 99%' since I updated to {version}. I "
            "tried logging out and back in, no luck.",
        ),
        ja=(
            "デスクトップアプリ（{version}）でレポートをCSVにエクスポートすると、メッセージも"
            "なくアプリが終了します。期間を短くすると成功します。",
            "アプリを{version}に更新してから、同期が「99%」のまま止まっています。再ログインしても"
            "改善しません。",
        ),
    ),
    agent_first=Texts(
        en=(
            "Thanks for the detail. I can reproduce the crash with exports over about 50,000 "
            "rows. Until it's fixed, exporting a month at a time works. I've filed a bug and "
            "linked this ticket to it.",
            "Thanks — you're right: the dashboard leaves refunded orders out of the total but "
            "not out of the rows. That's a bug and I've reported it to the developers.",
            "Could you send me the app log? In the app go to Help → Diagnostics → Save log and "
            "attach the file to your reply.",
        ),
        ja=(
            "詳しい情報をありがとうございます。5万行を超えるエクスポートで同じ現象を再現できました。"
            "修正までの間は、1か月ずつエクスポートしていただくと回避できます。",
            "お手数ですが、アプリのログをお送りいただけますでしょうか。「ヘルプ」→「診断」→"
            "「ログを保存」から保存できます。",
        ),
    ),
    customer_more=Texts(
        en=(
            "Splitting by month works for now, thanks. Any idea when the fix will be out?",
            "Thanks. Our finance team relies on these totals, so please let us know when it's "
            "fixed.",
            "Log attached. It says something about a timeout right before the sync stops.",
        ),
        ja=(
            "1か月ずつのエクスポートで対応できました。修正はいつ頃になりそうでしょうか。",
            "ログを添付しました。よろしくお願いします。",
        ),
    ),
    customer_thanks=Texts(
        en=("Updated and it works. Thanks!",),
        ja=("アップデート後、正常に動作しています。ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "The developers have a fix in testing; it's planned for the next release in about "
            "two weeks. I'll keep this ticket on hold until then.",
        ),
        ja=("修正は現在テスト中で、約2週間後のリリースに含まれる予定です。",),
    ),
    resolution=Texts(
        en=(
            "Version {version_next} is out and includes the fix for this. Updating should make "
            "the problem go away; reply here if it doesn't.",
        ),
        ja=(
            "本不具合の修正を含むバージョン{version_next}をリリースいたしました。アップデート後も"
            "問題が解決しない場合はご返信ください。",
        ),
    ),
    notes=(
        "Reproduced on {version}, filed BUG-{ref}.",
        "Same crash reported by two other customers this week.",
    ),
)

FEATURE_REQUEST = Family(
    key="feature-request",
    queue="technical",
    tags=("feature-request",),
    subjects=Texts(
        en=(
            "Feature request: dark mode",
            "Could you add an export to Excel?",
            "Suggestion: bulk edit for products",
        ),
        ja=("機能追加の要望：ダークモード", "Excel形式でのエクスポートについて"),
    ),
    openings=Texts(
        en=(
            "Love the product, but the bright white screen is hard on the eyes in the evening. "
            "Any plans for a dark mode?",
            "We'd really like to export reports straight to .xlsx. Converting from CSV every "
            "week is tedious and the dates get mangled.",
            "Editing prices one product at a time takes forever with 400 items. A bulk edit or "
            "an import would save us hours every month.",
        ),
        ja=(
            "いつも便利に使っています。夜に作業することが多いので、ダークモードがあると助かります。"
            "ご検討いただけますでしょうか。",
            "毎週CSVをExcelに変換しているのですが、日付の形式が崩れてしまいます。Excel形式で"
            "直接エクスポートできるようにしていただけないでしょうか。",
        ),
    ),
    agent_first=Texts(
        en=(
            "Thanks for the suggestion! I've added your vote to the request on our roadmap. I "
            "can't promise a date, but requests with many votes get looked at first.",
            "Good news: this is already being worked on and should reach a beta in the next "
            "couple of months. Would you like to be on the beta list?",
        ),
        ja=(
            "ご要望ありがとうございます。開発チームに共有し、ロードマップの要望に追加いたしました。",
        ),
    ),
    customer_more=Texts(
        en=("Is there anywhere we can follow progress?", "Yes please, add us to the beta."),
        ja=("進捗はどこかで確認できますか。",),
    ),
    customer_thanks=Texts(
        en=("Great, thanks for passing it on.",),
        ja=("ご対応ありがとうございます。リリースを楽しみにしています。",),
    ),
    agent_more=Texts(
        en=(
            "Yes: the public roadmap at roadmap.supportdesk.example shows where each request "
            "stands, and we post updates there.",
            "Done, you're on the list. You'll get an email when the beta opens.",
        ),
        ja=("公開ロードマップ（roadmap.supportdesk.example）で進捗をご確認いただけます。",),
    ),
    resolution=Texts(
        en=(
            "I'm marking this as solved since the request is logged; we'll email you when it "
            "ships.",
        ),
        ja=("ご要望は記録いたしましたので、本件はいったん完了とさせていただきます。",),
    ),
    notes=(
        "Added +1 to FR-{ref}.",
        "Product wants more examples of this use case — ask for screenshots if they reply.",
    ),
    usual_priority="low",
)

LOGIN = Family(
    key="login",
    queue="accounts",
    tags=("login",),
    subjects=Texts(
        en=(
            "Can't log in",
            "Password reset email never arrives",
            "Account locked after too many attempts",
        ),
        ja=("ログインできません", "パスワード再設定のメールが届きません"),
    ),
    openings=Texts(
        en=(
            "I've been trying to log in since this morning and keep getting 'invalid email or "
            "password', even though I'm sure the password is right. I haven't changed anything.",
            "I requested a password reset four times but the email never arrives. I checked "
            "spam. My address is {email}.",
            "My account says it's locked after too many attempts. I think a colleague tried to "
            "log in with the wrong password. Can you unlock it?",
        ),
        ja=(
            "今朝からログインしようとすると「メールアドレスまたはパスワードが正しくありません」と"
            "表示されます。パスワードは変更していません。",
            "パスワード再設定のメールを何度か送信しましたが届きません。迷惑メールフォルダも確認"
            "しました。",
        ),
    ),
    agent_first=Texts(
        en=(
            "I've checked your account and it was locked after several failed attempts. I've "
            "unlocked it and sent a fresh password reset link, valid for one hour.",
            "Our mail logs show the reset emails were rejected by your mail server as spam. "
            "Could you ask your IT team to allow mail from supportdesk.example? Meanwhile I've "
            "sent a reset link to this address directly.",
        ),
        ja=(
            "アカウントを確認したところ、複数回のログイン失敗によりロックされておりました。"
            "ロックを解除し、パスワード再設定用のリンクをお送りしました（有効期限は1時間です）。",
            "記録を確認したところ、再設定メールがお客様のメールサーバーで迷惑メールとして拒否"
            "されておりました。supportdesk.example からのメールを受信できるよう設定いただけます"
            "でしょうか。再設定用のリンクはこのアドレスへ直接お送りしました。",
        ),
    ),
    customer_more=Texts(
        en=("The link says it has expired, even though I clicked it within a few minutes.",),
        ja=("リンクを開くと「有効期限切れ」と表示されます。",),
    ),
    customer_thanks=Texts(
        en=("Got the link this time and I'm back in. Thanks!",),
        ja=("リンクからログインできました。ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "Some mail scanners open links to check them, which uses up a one-time link. I've "
            "sent a new one that survives a scan; please try again.",
        ),
        ja=(
            "メールのセキュリティ機能によりリンクが無効になった可能性がございます。新しいリンク"
            "を再送いたしましたのでお試しください。",
        ),
    ),
    resolution=Texts(
        en=(
            "I've sent a fresh link and checked that your account is unlocked, so you should be "
            "able to log in now. I'll close this ticket; reply if you're still locked out. Tip: "
            "you can turn on two-factor authentication under Settings → Security.",
        ),
        ja=(
            "新しいリンクをお送りし、アカウントのロックが解除されていることを確認いたしました。"
            "本件はいったん完了とさせていただきます。",
        ),
    ),
    notes=(
        "Locked by 12 failed attempts from an unfamiliar IP. Suggested 2FA.",
        "Reset mail bounced: their server rejected it as spam (550 5.7.1).",
    ),
)

TWO_FACTOR = Family(
    key="2fa",
    queue="accounts",
    tags=("2fa",),
    subjects=Texts(
        en=(
            "Lost my phone – can't get 2FA codes",
            "Two-factor codes not accepted",
            "Please reset my two-factor authentication",
        ),
        ja=("スマートフォン紛失のため二段階認証を解除したい", "二段階認証のコードが使えません"),
    ),
    openings=Texts(
        en=(
            "My phone was stolen last night and my authenticator app was on it. I don't have "
            "the backup codes. How can I get back into my account?",
            "The six-digit codes from my authenticator app are rejected every time. The app "
            "shows a new code every 30 seconds as usual.",
        ),
        ja=(
            "昨日スマートフォンを紛失し、認証アプリが使えなくなりました。バックアップコードも"
            "保存していません。ログインする方法はありますか。",
            "認証アプリの6桁のコードを入力しても毎回エラーになります。",
        ),
    ),
    agent_first=Texts(
        en=(
            "I'm sorry to hear that. To protect your account we need to check it's you before "
            "turning off two-factor authentication. Please reply with the date of your last "
            "invoice and the last four digits of the card on file.",
            "Rejected codes are almost always caused by the phone's clock being slightly off. "
            "Could you turn on automatic date and time on your phone and try again?",
        ),
        ja=(
            "ご本人確認のため、直近の請求日とご登録のカード番号の下4桁をご返信いただけます"
            "でしょうか。確認後、二段階認証を解除いたします。",
            "コードが受け付けられない場合、多くはスマートフォンの時刻のずれが原因です。日付と"
            "時刻の自動設定をオンにして、再度お試しいただけますでしょうか。",
        ),
    ),
    customer_more=Texts(
        en=(
            "Last invoice was on {date} and the card ends in {last4}.",
            "I switched on automatic time, but the codes are still rejected.",
        ),
        ja=(
            "直近の請求日は{date}、カード番号の下4桁は{last4}です。",
            "自動設定をオンにしましたが、まだコードが受け付けられません。",
        ),
    ),
    customer_thanks=Texts(
        en=(
            "I'm back in and have set up two-factor again on the new phone. Thanks!",
            "That was it — the clock was two minutes behind. Works now, thanks.",
        ),
        ja=("ログインできました。ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "Thank you, that matches. I've turned off two-factor authentication; please log in "
            "and set it up again on your new phone straight away.",
            "Then let's reset it. To check it's you, please reply with the date of your last "
            "invoice and the last four digits of the card on file.",
        ),
        ja=(
            "確認が取れましたので、二段階認証を解除いたしました。ログイン後、新しい端末で再設定"
            "をお願いいたします。",
            "承知いたしました。リセットのため、直近の請求日とカード番号の下4桁をお知らせください。",
        ),
    ),
    resolution=Texts(
        en=(
            "Thanks, that's all I needed: two-factor authentication is reset, so you can log in "
            "and set it up again. Do save the backup codes this time — a password manager is a "
            "good place for them.",
        ),
        ja=(
            "確認が取れましたので、二段階認証をリセットいたしました。ログイン後に再設定いただき、"
            "バックアップコードの保存をおすすめいたします。",
        ),
    ),
    notes=(
        "Identity checked: invoice date and card digits match.",
        "Did NOT disable 2FA yet — details didn't match, asked for more.",
    ),
    usual_priority="high",
)

ACCOUNT_CHANGE = Family(
    key="account-change",
    queue="accounts",
    tags=("account-change",),
    subjects=Texts(
        en=(
            "Change the email address on my account",
            "Please delete my account and data",
            "Transfer account ownership to a colleague",
        ),
        ja=("登録メールアドレスの変更", "アカウント削除の依頼"),
    ),
    openings=Texts(
        en=(
            "I'd like to change my login email to my new address. The settings page says the "
            "address is already in use, but I don't have another account.",
            "Please delete my account and all the personal data you hold about me, as allowed "
            "under GDPR.",
            "I'm leaving at the end of the month. Could you move ownership of our workspace to "
            "my colleague, who is taking over?",
        ),
        ja=(
            "登録しているメールアドレスを新しいアドレスに変更したいのですが、設定画面で「既に"
            "使用されています」と表示されます。",
            "サービスの利用をやめるため、アカウントと個人データの削除をお願いします。",
        ),
    ),
    agent_first=Texts(
        en=(
            "I can help with that. For security, the change has to be confirmed from the "
            "address currently on the account, so I've sent a confirmation link there.",
            "Your request is logged. Deletion is permanent and takes up to 30 days to reach our "
            "backups. Please reply 'confirm' and I'll start it.",
            "I can move ownership once your colleague has accepted the invitation to the "
            "workspace. Could you let me know when they have?",
        ),
        ja=(
            "承知いたしました。セキュリティのため、現在ご登録のメールアドレス宛てに確認用の"
            "リンクをお送りしました。",
            "削除のご依頼を承りました。削除は取り消しができず、バックアップからの削除まで最大30日"
            "かかります。よろしければ「確認」とご返信ください。",
        ),
    ),
    customer_more=Texts(
        en=(
            "Confirmed from the old address.",
            "Confirm.",
            "My colleague has accepted the invitation now.",
        ),
        ja=("確認しました。よろしくお願いします。",),
    ),
    customer_thanks=Texts(
        en=("Thanks for handling this so smoothly.",),
        ja=("スムーズにご対応いただきありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "Thanks — that's in progress. You'll get a final confirmation email when it's "
            "complete.",
        ),
        ja=("手続きが完了しましたら、あらためてメールでお知らせいたします。",),
    ),
    resolution=Texts(
        en=("All done on our side: the change is complete.",),
        ja=("お手続きが完了いたしました。ご利用ありがとうございました。",),
    ),
    notes=(
        "GDPR deletion request — deadline 30 days from {date}.",
        "Old address confirmed the change via the link.",
    ),
)

SHIPPING_DELAY = Family(
    key="shipping-delay",
    queue="shipping",
    tags=("shipping-delay",),
    subjects=Texts(
        en=(
            "Where is my order {order}?",
            "Tracking hasn't updated in a week",
            "Can you speed up order {order}?",
        ),
        ja=("注文 {order} がまだ届きません", "配送状況が更新されません"),
    ),
    openings=Texts(
        en=(
            "I ordered on {date} and the confirmation said delivery within five working days. "
            "It's been two weeks and order {order} still hasn't arrived.",
            "The tracking for {tracking} has said 'in transit' for seven days without an "
            "update. Is the parcel lost?",
            "I need the {product} for an event this weekend. Order {order} hasn't shipped yet; "
            "can you speed it up?",
        ),
        ja=(
            "{date}に注文した商品（注文番号 {order}）がまだ届きません。5営業日以内に届くとの案内"
            "でした。",
            "追跡番号 {tracking} の配送状況が1週間「輸送中」のまま更新されていません。",
        ),
    ),
    agent_first=Texts(
        en=(
            "Sorry for the wait. The carrier tells me the parcel was held at their depot in "
            "{city} because of a backlog. It's moving again and should reach you within two "
            "working days.",
            "I've opened an investigation with the carrier for {tracking}. They take up to "
            "three working days to reply; I'll get back to you as soon as I hear.",
            "I've asked the warehouse to upgrade order {order} to express at no charge. It "
            "leaves today and should arrive before the weekend.",
        ),
        ja=(
            "お待たせしてしまい申し訳ございません。配送業者に確認したところ、{city}の配送センター"
            "で遅延が発生していたとのことです。2営業日以内にお届けできる見込みです。",
        ),
    ),
    customer_more=Texts(
        en=("Still nothing, and the tracking hasn't changed either.",),
        ja=("まだ届いておらず、追跡情報も変わっていません。",),
    ),
    customer_thanks=Texts(
        en=("It arrived this morning. Thanks for chasing it.",),
        ja=("本日届きました。ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "The carrier has now confirmed the parcel is lost. I've sent a replacement by "
            "express; the new tracking number is {tracking2}.",
        ),
        ja=(
            "配送業者より荷物が紛失したとの回答がありました。代替品を速達で発送いたしました"
            "（追跡番号 {tracking2}）。",
        ),
    ),
    resolution=Texts(
        en=(
            "The carrier confirms the parcel was delivered this morning. I'll close this ticket "
            "now; just reply if it hasn't reached you.",
        ),
        ja=(
            "配送業者より、本日お届け完了との連絡がありました。本件は完了とさせていただきます。"
            "万一届いていない場合はご返信ください。",
        ),
    ),
    notes=(
        "Carrier investigation opened, case {ref}.",
        "Depot in {city} has had a backlog all week — expect more of these.",
    ),
)

DAMAGED = Family(
    key="damaged",
    queue="shipping",
    tags=("damaged",),
    subjects=Texts(
        en=(
            "Broken {product} in my delivery",
            "Order {order} – parts missing and box crushed",
            "Item arrived damaged",
        ),
        ja=("商品が破損して届きました", "{product}が壊れていました"),
    ),
    openings=Texts(
        en=(
            "The {product} from order {order} arrived with a cracked base, and the box was "
            "dented on one corner. Photos attached. Can you send a replacement?",
            "The box for order {order} was crushed and two of the four legs are missing. I "
            "can't assemble it.",
        ),
        ja=(
            "注文 {order} の{product}が破損した状態で届きました。箱の角もへこんでいました。写真を"
            "添付します。交換をお願いできますでしょうか。",
        ),
    ),
    agent_first=Texts(
        en=(
            "I'm so sorry it arrived like that. Thanks for the photos, they're all I need. I've "
            "sent a replacement today and there's no need to return the damaged one.",
            "Sorry about that. Could you send a photo of the shipping label too? The carrier "
            "needs it for the damage claim; once I have it I'll ship the replacement.",
        ),
        ja=(
            "このたびは大変申し訳ございません。お写真ありがとうございます。本日代替品を発送"
            "いたしました。破損品の返送は不要です。",
        ),
    ),
    customer_more=Texts(
        en=(
            "Thanks! Will I get a tracking number for the replacement?",
            "Photo of the label attached.",
        ),
        ja=("ありがとうございます。代替品の追跡番号を教えていただけますか。",),
    ),
    customer_thanks=Texts(
        en=("The replacement came today and it's perfect. Thank you.",),
        ja=("代わりの商品が届きました。迅速なご対応ありがとうございました。",),
    ),
    agent_more=Texts(
        en=(
            "Of course: the replacement is on its way, tracking {tracking2}.",
            "Thanks. The replacement is on its way, tracking {tracking2}.",
        ),
        ja=("代替品を発送いたしました。追跡番号は{tracking2}です。",),
    ),
    resolution=Texts(
        en=(
            "The carrier shows the replacement as delivered. I'll close this one now; reply if "
            "anything is wrong with it.",
        ),
        ja=("代替品のお届け完了を確認いたしました。本件は完了とさせていただきます。",),
    ),
    notes=(
        "Damage claim filed with the carrier, ref {ref}.",
        "Third damaged {product} this month — asked the warehouse to check the packaging.",
    ),
)

ADDRESS_CHANGE = Family(
    key="address-change",
    queue="shipping",
    tags=("address-change",),
    subjects=Texts(
        en=(
            "Change delivery address for order {order}",
            "Wrong address on my order",
            "Can I redirect my parcel?",
        ),
        ja=("配送先住所の変更", "注文 {order} の届け先を変更したい"),
    ),
    openings=Texts(
        en=(
            "I've just noticed order {order} is going to my old address. Can you change it "
            "before it ships? New address: {street}, {city}.",
            "I made a typo in the postcode for order {order}. Could you correct it? The right "
            "address is {street}, {city}.",
        ),
        ja=(
            "注文 {order} の配送先が旧住所になっていました。発送前に{city}の新住所へ変更して"
            "いただけますか。",
        ),
    ),
    agent_first=Texts(
        en=(
            "Caught it in time: the order hadn't left the warehouse yet, so I've updated the "
            "address. You'll get a new shipping confirmation when it goes out.",
            "The parcel had already been handed to the carrier, so I've asked them to redirect "
            "it. That usually works but can add a day or two.",
        ),
        ja=(
            "発送前でしたので、配送先住所を変更いたしました。発送時にあらためてご連絡いたします。",
        ),
    ),
    customer_more=Texts(
        en=("Thanks! Can you confirm which address it's going to now?",),
        ja=("ありがとうございます。変更後の住所を念のため教えていただけますか。",),
    ),
    customer_thanks=Texts(
        en=("It arrived at the new address. Thanks!",),
        ja=("新しい住所に届きました。ありがとうございました。",),
    ),
    agent_more=Texts(
        en=("It's now going to {street}, {city}.",),
        ja=("変更後のお届け先は{city}のご住所です。",),
    ),
    resolution=Texts(
        en=("The order was delivered to the new address. All sorted!",),
        ja=("新しいご住所へのお届けが完了いたしました。",),
    ),
    notes=(
        "Address changed in the warehouse system before picking.",
        "Carrier redirect requested, ref {ref}.",
    ),
)

FAMILIES: tuple[Family, ...] = (
    REFUND,
    INVOICE,
    DOUBLE_CHARGE,
    API_ERRORS,
    APP_BUG,
    FEATURE_REQUEST,
    LOGIN,
    TWO_FACTOR,
    ACCOUNT_CHANGE,
    SHIPPING_DELAY,
    DAMAGED,
    ADDRESS_CHANGE,
)

# Robot mail that lands in quarantine: replies to the desk's own notifications.
ROBOT_SUBJECTS = (
    "Automatic reply: Your receipt from Supportdesk Example",
    "Automatic reply: Order {order} has shipped",
    "Automatic reply: Your invoice {invoice} is ready",
    "Automatic reply: Your password was changed",
    "Automatic reply: Welcome to Supportdesk Example",
)
ROBOT_SENDERS = (
    ("Out of Office", "noreply"),
    ("Auto Responder", "autoreply"),
    ("Notifications", "no-reply"),
)
ROBOT_BODIES = (
    "This mailbox is not monitored. Your message has not been read.\n\n"
    "If you need help, please contact your account manager.",
    "Thank you for your message. We have received it and will respond within 3 business days. "
    "Please do not reply to this email.",
    "I am currently out of the office with no access to email and will return on {date}.",
)
BOUNCE_SUBJECT = "Undeliverable: Your invoice {invoice} is ready"
BOUNCE_BODY = (
    "This is the mail system at host mx1.{domain}.\n\n"
    "I'm sorry to have to inform you that your message could not be delivered to one or more "
    "recipients.\n\n<{recipient}>: host mx1.{domain} said: 550 5.1.1 User unknown"
)

CANNED: tuple[tuple[str, str, str], ...] = (
    (
        "thanks-closing",
        "Thanks, closing the ticket",
        "Hi {customer.name},\n\nThanks for confirming. I'll close ticket #{ticket.number} now; "
        "just reply to this email if anything else comes up.\n\n{agent.signature}",
    ),
    (
        "refund-issued",
        "Refund issued",
        "Hi {customer.name},\n\nI've issued your refund. It usually shows on your statement "
        "within 5 to 7 business days; banks sometimes take a little longer.\n\n{agent.signature}",
    ),
    (
        "need-more-info",
        "Ask for more information",
        'Hi {customer.name},\n\nThanks for your message about "{ticket.subject}". Could you '
        "tell us a bit more: what you did, what you expected, and what happened instead? A "
        "screenshot helps a lot.\n\n{agent.signature}",
    ),
    (
        "password-reset",
        "Password reset link sent",
        "Hi {customer.name},\n\nI've sent a password reset link to {customer.email}. It is "
        "valid for one hour; if it has expired, just reply here and I'll send another."
        "\n\n{agent.signature}",
    ),
    (
        "shipping-delay",
        "Carrier delay apology",
        "Hi {customer.name},\n\nSorry for the delay with your order. The carrier is running "
        "behind this week; I'm keeping an eye on ticket #{ticket.number} and will update you as "
        "soon as it moves.\n\n{agent.signature}",
    ),
    (
        "ja-received",
        "受付のお知らせ (Japanese acknowledgement)",
        "{customer.name} 様\n\nお問い合わせいただきありがとうございます。チケット番号 "
        "#{ticket.number} にて承りました。担当者より順次ご連絡いたします。\n\n{agent.signature}",
    ),
)
