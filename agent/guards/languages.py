"""The injection rules in languages other than English: (rule, name, pattern) for `rules.find_rule`.

`WORDED` patterns read the one-space-between-words form of a turn (Latin and Cyrillic scripts, accents off);
`FOLDED` ones the folded text, for scripts whose vowel signs are not word characters (Devanagari, Arabic,
Greek) or that have no spaces (Chinese, Japanese, Korean). Each pattern pairs an order ("ignore", "show",
"always first") with what it is about ("instructions", "your rules", "the top of the list"), so an ordinary
request that only uses one of the words ("ignora las de terror") passes.
"""

from __future__ import annotations

import re
import unicodedata


def _words(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


def _any(*parts: str) -> str:
    return "(?:" + "|".join(parts) + ")"


_IGNORE_NOUNS = {
    "es": (r"ignora|ignore|ignorar|olvida|olvide|olvidar|omite|descarta|desobedece|no hagas caso (?:a|de)|"
           r"salta(?:te)?", r"instrucciones|reglas|indicaciones|directrices|ordenes|normas|pautas"),
    "fr": (r"ignore|ignorez|oublie|oubliez|neglige|negligez|ne tiens (?:plus )?compte|fais abstraction",
           r"instructions|consignes|regles|directives|ordres"),
    "de": (r"ignoriere|ignorier|vergiss|vergessen sie|missachte|ignorieren sie|uberspringe|verwirf",
           r"anweisungen|instruktionen|regeln|befehle|vorgaben|richtlinien"),
    "it": (r"ignora|dimentica|trascura|dimenticate|ignorate|lascia perdere|non seguire piu",
           r"istruzioni|regole|indicazioni|direttive"),
    "pt": (r"ignore|ignora|esqueca|esquece|desconsidere|desconsidera|nao siga|deixe de lado",
           r"instrucoes|regras|orientacoes|diretrizes"),
    "nl": (r"negeer|vergeet|doe alsof", r"instructies|opdrachten|regels|richtlijnen|aanwijzingen"),
    "nordic": (r"ignorera|glom|strunta i|ignorer|glem|se bort fra|unohda|ohita|sivuuta",
               r"instruktion\w*|regler\w*|regl\w*|instruks\w*|direktiv\w*|ohjee\w*|saannot|saantosi"),
    "pl-cs": (r"zignoruj|ignoruj|zapomnij|pomin|nie sluchaj|zapomen|nerespektuj",
              r"instrukcj\w*|polecen\w*|zasad\w*|regu\w*|wytyczn\w*|pokyn\w*|instrukc\w*|pravidl\w*"),
    "ro-hu": (r"ignora|uita|felejtsd el|ignorald|hagyd figyelmen kivul",
              r"instructiunil\w*|regulil\w*|utasitas\w*|szabaly\w*"),
    "id-vi": (r"abaikan|lupakan|acuhkan|bo qua|quen đi|quen|đung lam theo",
              r"instruksi|perintah|aturan|arahan|petunjuk|huong dan|chi dan|quy tac|lenh|chi thi"),
    "ru-uk": (r"(?:игнорир|проигнорир|забуд|не следу|отмен|ігнору|проігнору|не виконуй)\w*",
              r"(?:инструкц|правил|указани|інструкц|вказівк)\w*"),
}
_TOLD = _any(r"(?:olvida|ignora|no hagas caso a) (?:todo )?lo que te (?:dijeron|han dicho|ordenaron|indicaron)",
             r"(?:oublie|ignore) (?:tout )?ce quon ta (?:dit|demande|ordonne)",
             r"vergiss (?:alles )?was (?:man )?dir (?:\w+ )?(?:gesagt|befohlen|aufgetragen)",
             r"dimentica (?:tutto )?(?:quello|cio) che ti (?:hanno detto|e stato detto)",
             r"esqueca (?:tudo )?o que (?:te|lhe) (?:disseram|mandaram|foi dito)",
             r"забудь (?:\w+ )?(?:что|вс[её]) (?:\w+ ){0,3}(?:велели|сказали|говорили|приказали|поручили)")
_AI = r"ia|ki|ai|ии|ші|yapay zeka|sztuczna inteligencja|umela inteligence|tekoaly|bot|assistente|asistente"
_WITHOUT = r"sin|sans|ohne|senza|sem|zonder|utan|uden|uten|bez|без|tanpa|khong co|ilman|fara|nelkul"
_LIMITS = (r"(?:regl|regra|regel|regol|restric|restrict|limit|filt|einschrank|grenz|beperk|begrans|ogranicz|"
           r"zasad|ограничен|правил|фильтр|обмежен|aturan|batas|rajoitu|saanto|censur|zensur)\w*|gioi han|quy tac")
_SHOW = (r"muestra(?:me)?|revela(?:me)?|dime|ensename|repite|copia|montre(?:-moi)?|revele|affiche|donne-moi|"
         r"repete|recopie|zeig(?:e)?|verrate|nenne|wiederhole|mostrami|mostra|rivela|ripeti|dimmi|scrivi|"
         r"mostre|diga|repita|toon|herhaal|vertel|pokaz|powtorz|ujawnij|покажи|повтори|раскрой|выведи|перепиши|"
         r"покажіть|goster|tekrarla|tunjukkan|ulangi|visa|upprepa|gentag|gjenta|nayta|toista")
_YOUR_RULES = (r"prompt|instrucciones|reglas|instructions|consignes|regles|anweisungen|regeln|istruzioni|regole|"
               r"regras|instrucoes|instructies|regels|opdrachten|instrukcje|zasady|инструкци\w*|правила|промпт|"
               r"talimatlar\w*|kurallar\w*|instruksi|aturan|instruktioner|regler|ohjeet|pokyny")
_NOW_YOU_ARE = (r"ahora eres|a partir de ahora eres|tu es maintenant|tu es desormais|desormais tu es|"
                r"du bist jetzt|ab jetzt bist du|ora sei|da ora sei|agora voce e|je bent nu|vanaf nu ben je|"
                r"du ar nu|teraz jestes|od teraz jestes|теперь ты|отныне ты|тепер ти|artik sen|bundan sonra sen|"
                r"sekarang kamu adalah|bay gio ban la")

WORDED: list[tuple[str, str, re.Pattern]] = [
    *(("override", lang, _words(rf"\b(?:{verbs})\b(?: \w+){{0,4}} (?:{nouns})\b"))
      for lang, (verbs, nouns) in _IGNORE_NOUNS.items()),
    ("override", "tr", _words(r"\b(?:talimatlar|kurallar|yonergeler|komutlar)\w*(?: \w+){0,3} "
                              r"(?:yok say|unut|gormezden gel|bosver|dikkate alma)")),
    ("override", "forget-what-you-were-told", _words(_TOLD)),
    ("role_play", "ai-without-rules", _words(rf"\b(?:{_AI})\b(?: \w+){{0,3}} (?:{_WITHOUT})(?: \w+){{0,2}} "
                                             rf"(?:{_LIMITS})\b|\b(?:kuralsiz|s[iı]n[iı]rs[iı]z|"
                                             r"k[iı]s[iı]tlamas[iı]z|filtresiz) (?:bir )?(?:yapay zeka|ai)\b")),
    ("role_play", "now-you-are", _words(rf"\b(?:{_NOW_YOU_ARE})\b")),
    ("prompt_leak", "show-prompt", _words(rf"\b(?:{_SHOW})\b(?: \w+){{0,6}} (?:{_YOUR_RULES})\b")),
    ("prompt_leak", "text-you-were-given",
     _words(r"\b(?:текст|инструкци\w*|промпт) (?:\w+ )?(?:который|которые) тебе (?:дали|задали|прописали)|"
            r"\bel texto (?:que|con el que) te (?:dieron|configuraron|dieron antes)\b|"
            r"\ble texte quon ta (?:donne|fourni)\b|\bden text den (?:man )?dir (?:gegeben|vorgegeben)\b")),
]

# "Always at the top", "first in every list, no matter what": a film pinned to the top of every answer (a bare
# "always ... first" or "always recommend" is too common in ordinary talk: "I always watch the trailer first").
_ALWAYS = (r"siempre|toujours|immer|stets|sempre|altijd|zawsze|her zaman|daima|всегда|завжди|alltid|aina|vzdy|"
           r"selalu|luon|πάντα|हमेशा|دائما|总是|始终|永远|每次|一律|必ず|いつも|常に|항상|무조건|언제나")
_TOP = (r"en primer lugar|primer puesto|primera posicion|el numero uno|primero (?:en|de) (?:tu|la|cada|tus|todas|las) "
        r"(?:lista|respuesta|recomendacion)\w*|en premier (?:dans|de) (?:ta|la|chaque|tes)|premiere place|"
        r"en tete de|numero un|an erster stelle|ganz oben|platz eins|als erstes? in (?:jeder|deiner|der)|"
        r"al primo posto|in cima|em primeiro lugar|no topo|bovenaan|op nummer een|als eerste in (?:elke|je|de)|"
        r"na pierwszym miejscu|na szczycie|ilk s[iı]ra\w*|en ba[sş]a|на первом месте|на первое место|"
        r"первым в (?:списке|каждом)|на першому місці|forst i (?:varje|listan|hver)|overst|pa forsta plats|"
        r"na prvnim miste|urutan pertama|nomor satu|paling atas|vi tri đau tien|đung đau|đau danh sach|"
        r"πρώτ\w* (?:θέση|στη λίστα)|सबसे ऊपर|पहले नंबर|في المرتبة الأولى|第一位|放在第一|排第一|首位|最前面|"
        r"一番目|一番上|トップに|첫 ?번째로|맨 위|1순위")
_NO_MATTER = (r"pase lo que pase|sin importar|no importa lo que|quoi qu.?il arrive|peu importe|egal was|"
              r"unter allen umstanden|qualunque cosa|a prescindere|nao importa|aconteca o que acontecer|"
              r"wat er ook gebeurt|ongeacht|ne olursa olsun|bez wzgledu na|niezaleznie od|что бы ни|"
              r"несмотря ни на что|в любом случае|що б не|oavsett|uanset|uansett|apa pun yang terjadi|bat ke|"
              r"du the nao|无论如何|不管怎样|何があっても|무슨 일이 있어도")
_EVERY = (r"en cada|en todas|dans chaque|a chaque|in jeder|bei jeder|in ogni|a ogni|em cada|em toda|in elke|"
          r"bij elke|w kazd\w*|her (?:oneri|cevap|liste|yan[iı]t)\w*|в кажд\w*|у кожн\w*|i varje|setiap|moi lan|"
          r"σε κάθε|हर|كل|每(?:个|次|一)|どの|모든")
FOLDED: list[tuple[str, str, re.Pattern]] = [
    ("override", "zh", re.compile(r"(?:忽略|无视|忽视|忘记|忘掉|不要遵守|不要再遵守|跳过).{0,8}(?:指令|指示|规则|设定)")),
    ("override", "ja", re.compile(r"(?:指示|命令|ルール|設定).{0,6}(?:無視|忘れ)")),
    ("override", "ko", re.compile(r"(?:지시|명령|규칙).{0,8}(?:무시|잊)")),
    ("override", "hi", re.compile(r"(?:निर्देश|नियम)\S*.{0,20}(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल)")),
    ("override", "ar", re.compile(r"(?:تجاهل|انس|إنس|اهمل|أهمل).{0,20}(?:التعليمات|تعليمات|القواعد|الأوامر|الإرشادات)")),
    ("override", "el", _words(r"(?:αγνόησε|αγνοήστε|ξέχνα|ξεχάστε|παράβλεψε).{0,30}(?:οδηγίες|κανόνες|εντολές)")),
    ("override", "he", re.compile(r"(?:התעלם|תתעלם|התעלמי|שכח|תשכח|שכחי).{0,20}(?:הוראות|כללים|הנחיות|ההוראות|הכללים|ההנחיות)")),
    ("override", "th", re.compile(unicodedata.normalize(  # as `fold` reads it: SARA AM becomes two marks
        "NFKC", r"(?:ไม่ต้องสนใจ|เพิกเฉย|ละเว้น|ลืม).{0,20}(?:คำสั่ง|กฎ|คำแนะนำ)"))),
    ("override", "fa", re.compile(r"(?:نادیده بگیر|فراموش کن|توجه نکن).{0,20}(?:دستورالعمل|دستورات|قوانین)|"
                                  r"(?:دستورالعمل|دستورات|قوانین).{0,20}(?:نادیده بگیر|فراموش کن)")),
    ("role_play", "cjk-no-limits", re.compile(
        r"(?:没有|沒有|无|不受)(?:任何)?(?:限制|规则|约束|規則)的?(?:AI|人工智能|助手|机器人)|"
        r"(?:制限|ルール|規則)(?:の|が)?(?:ない|なし|無し)の?(?:AI|人工知能)|(?:제한|규칙)(?:이|가)? ?없는 ?(?:AI|인공지능)|"
        r"从现在(?:开始|起)，?你(?:就)?是|今からあなたは|(?:지금|이제)부터 (?:너는|당신은)", re.IGNORECASE)),
    ("prompt_leak", "prompt-words", _words(
        r"prompt (?:del )?sistema|prompt systeme|системн\w* (?:промпт|инструкц|подсказ)|промпт|系统提示|提示词|"
        r"システムプロンプト|시스템 프롬프트|प्रॉम्प्ट|κρυφ\w* (?:κανόν|οδηγ)\w*|(?:موجه|تعليمات) النظام|"
        r"(?:reglas|instrucciones|regles|instructions|regeln|anweisungen|regole|istruzioni|regras|instrucoes) "
        r"(?:ocultas|secretas|cachees|secretes|nascoste|segrete)|(?:versteckten|geheimen) (?:regeln|anweisungen)|"
        r"скрыт\w* (?:правил|инструкц)\w*")),
    ("prompt_leak", "cjk-show-rules", re.compile(
        r"(?:显示|告诉我|输出|重复|打印)(?:你的)?(?:系统)?(?:指令|提示|设定|规则)|(?:指示|設定|プロンプト)を(?:表示|教えて|見せて|繰り返)|"
        r"(?:지시|프롬프트|규칙)(?:를|을)? ?(?:보여|알려|출력|반복)")),
    ("forced_recommendation", "always-first", _words(rf"(?:{_ALWAYS}).{{0,40}}?(?:{_TOP})|(?:{_TOP}).{{0,40}}?(?:{_ALWAYS})|"
                                                     rf"(?:{_EVERY}).{{0,40}}?(?:{_TOP})")),
    ("forced_recommendation", "no-matter-what", _words(rf"(?:{_NO_MATTER}).{{0,80}}?(?:{_TOP})|"
                                                       rf"(?:{_TOP}).{{0,80}}?(?:{_NO_MATTER})")),
]
