"""The words people use for moods, genres and languages, and the MovieLens genres they mean."""

from __future__ import annotations

SIGNAL_KINDS = ("mood", "era", "language", "genres", "loved")

# mood -> (how people say it, the MovieLens genres it leans on)
MOODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tense": (r"tense|suspense\w*|gripping|edge of (?:my|your|the) seat|nail[- ]?biting|thrilling|intense|"
              r"heist|cat and mouse", ("Thriller", "Crime", "Mystery")),
    "funny": (r"funny|hilarious|laugh\w*|comic|comedic|silly|goofy|witty|lol", ("Comedy",)),
    "feel-good": (r"feel[- ]?good|uplifting|heart[- ]?warming|cheer (?:me|us) up|cheerful|happy|cozy|wholesome|"
                  r"sweet|charming|fun\b", ("Comedy", "Romance", "Children", "Animation", "Musical")),
    "dark": (r"dark|gritty|bleak|grim|disturbing|brutal|violent|noir", ("Crime", "Thriller", "Film-Noir", "Drama")),
    "scary": (r"scary|creepy|terrifying|spooky|frightening|scare me|chills", ("Horror", "Thriller")),
    "romantic": (r"romantic|love story|date night|swoon\w*", ("Romance",)),
    "mind-bending": (r"mind[- ]?bending|twist(?:y|s|ed)?|cerebral|trippy|puzzl\w+|thought[- ]?provoking|"
                     r"make(?:s)? (?:me|you) think|clever|smart|philosophical", ("Sci-Fi", "Mystery", "Thriller")),
    "moving": (r"moving|emotional|sad|tear[- ]?jerker|cry|touching|poignant|bittersweet|heartbreaking|deep",
               ("Drama", "Romance")),
    "epic": (r"epic|grand|sweeping|spectacular|larger than life|quest", ("Adventure", "Fantasy", "War")),
    "action-packed": (r"action[- ]?packed|explosive|adrenaline|fast[- ]?paced|exciting|thrill ride|fight scenes|"
                      r"car chases?|explosions", ("Action",)),
    "relaxing": (r"relax\w*|chill|easy[- ]going|easy watch|lighthearted|light[- ]hearted|mellow|low[- ]key|"
                 r"something light", ("Comedy", "Animation")),
    "inspiring": (r"inspir\w+|uplift\w*|triumph\w*|underdog", ("Drama",)),
    "quirky": (r"quirky|weird|offbeat|surreal|odd|strange|whimsical|indie", ("Comedy", "Fantasy")),
}

GENRES: dict[str, str] = {  # how people say it -> MovieLens genre
    r"action": "Action", r"adventures?": "Adventure", r"animat\w+|cartoons?|anime|pixar": "Animation",
    r"kids?|kiddie|children'?s?|family|family[- ]friendly": "Children", r"comed(?:y|ies)|rom[- ]?coms?|sitcom\w*": "Comedy",
    r"crime|gangsters?|mob|mafia|heists?|detectives?": "Crime", r"documentar(?:y|ies)|docs?": "Documentary",
    r"dramas?|dramatic": "Drama", r"fantasy|fantasies|magic|fairy ?tales?": "Fantasy",
    r"film[- ]?noir|noir": "Film-Noir", r"horror|slashers?|zombies?|scary|scared|frightening": "Horror", r"musicals?": "Musical",
    r"myster(?:y|ies)|whodunn?its?": "Mystery", r"romance|romances|romantic|rom[- ]?coms?|love stor(?:y|ies)|chick[- ]?flicks?|mushy": "Romance",
    r"sci[- ]?fi|scify|science[- ]fiction|space|aliens?|futuristic": "Sci-Fi", r"thrillers?": "Thriller",
    r"war|wartime|ww2|wwii|military": "War", r"westerns?|cowboys?": "Western", r"superheroe?s?|super[- ]heroe?s?|comic[- ]?(?:book|based)|marvel": "Action",
}

LANGUAGES = ("french", "korean", "japanese", "spanish", "italian", "german", "chinese", "mandarin", "cantonese",
             "hindi", "swedish", "danish", "russian", "portuguese", "persian", "iranian", "mexican", "brazilian",
             "scandinavian", "european", "asian", "foreign", "international", "world")

NEGATION = (r"(?:no|not|nope|don'?t|do not|didn'?t|did not|doesn'?t|never|nothing|without|avoid|hate|hated|dislike|"
            r"skip|forget|except|anything but|no more|less|isn'?t|aren'?t|wasn'?t|can'?t stand|not into|"
            r"not a fan of|sick of|tired of|enough|rather not|too|terrify)")
