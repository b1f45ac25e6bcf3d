"""The embedded demo of `recipes/squad.py`: a small SQuAD-style set it generates itself.

Paragraphs state templated facts about invented people (birthplace, birth year,
country of residence, job, employer, instrument, pet, ...), in random order and
wording; each question asks for one stated fact, in one of several wordings. Every
kind of fact has its own kind of value (cities, years, countries, months, jobs, ...),
so a model has to tell from the question which fact is asked and find its value in
the paragraph. The v2.0 flavour adds unanswerable questions: about a person the
paragraph does not mention, or a fact it does not state. The files are written in the
official SQuAD JSON layout (character `answer_start`s computed while the text is
built), so the real pipeline and official scorers run on them unchanged. It is the
embedded default of `recipes/squad.py`, small enough to train from scratch in a few
CPU-minutes.

With `people_per_paragraph > 1` (and `shared_facts`), the same kind of fact is stated
for several people and only the name in the question picks the answer. That binding of
names to facts is what a 2-layer BERT trained from scratch for a few CPU-minutes does
*not* learn: measured, it stays at the 50% of guessing between two people, so the
default is one person per paragraph.
"""

import json
import os
import random
import re
import string

from keras_bert_pkg.checkpoints.vocabulary_file import write_vocabulary

FIRST_NAMES = [
    "Alice", "Bruno", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ingrid", "Jonas",
    "Keiko", "Liam", "Marta", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sven", "Tamara",
    "Umar", "Vera", "Walter", "Ximena", "Yusuf", "Zoe", "Anton", "Beatrix", "Cyrus", "Delia",
]
LAST_NAMES = [
    "Abbott", "Brennan", "Castillo", "Dvorak", "Eriksen", "Fischer", "Gallo", "Hartmann",
    "Ibsen", "Jaramillo", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov",
    "Quinn", "Romano", "Schulz", "Tanaka", "Ueda", "Varga", "Weber", "Yilmaz", "Zhou",
]
CITIES = [
    "Lisbon", "Oslo", "Nairobi", "Lima", "Krakow", "Osaka", "Dublin", "Quebec", "Tunis",
    "Perth", "Bergen", "Porto", "Seville", "Turin", "Leeds", "Graz", "Lyon", "Hanoi",
    "Cusco", "Riga", "Malmo", "Bremen", "Accra", "Salta", "Fresno", "Tartu", "Split",
]
JOBS = [
    "carpenter", "pilot", "chemist", "baker", "librarian", "surgeon", "architect",
    "journalist", "gardener", "plumber", "translator", "geologist", "painter", "tailor",
    "firefighter", "dentist", "sailor", "jeweler", "teacher", "lawyer",
]
ORGS = [
    "Northwind Trading", "the Blue Harbor Clinic", "Redwood Labs", "the City Museum",
    "Summit Airlines", "the Royal Opera", "Granite Bank", "the Daily Courier",
    "Atlas Shipping", "Maple Software", "the National Library", "Orion Motors",
    "the Silver Bakery", "Falcon Robotics", "the Green Valley School",
]
INSTRUMENTS = [
    "violin", "cello", "piano", "trumpet", "flute", "harp", "drums", "clarinet",
    "banjo", "saxophone", "accordion", "ukulele",
]
ANIMALS = ["cat", "dog", "parrot", "rabbit", "tortoise", "hamster", "goat", "pony", "ferret"]
COLORS = ["black", "white", "grey", "brown", "orange", "golden", "spotted", "striped"]
PET_NAMES = [
    "Biscuit", "Pepper", "Mango", "Shadow", "Noodle", "Pixel", "Waffle", "Clover",
    "Ziggy", "Tofu", "Maple", "Rocket", "Olive", "Pickle",
]
COUNTRIES = [
    "Portugal", "Norway", "Kenya", "Peru", "Poland", "Japan", "Ireland", "Canada", "Tunisia",
    "Australia", "Spain", "Italy", "England", "Austria", "France", "Vietnam", "Latvia",
    "Sweden", "Germany", "Ghana", "Argentina", "Estonia", "Croatia", "Chile", "Mexico",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
SPORTS = ["tennis", "chess", "rugby", "cricket", "volleyball", "golf", "badminton", "hockey"]

# attribute: (value pool, statement templates, question templates). `{n}` is the name,
# `{v}` the answer; statements are single sentences. The value pools do not overlap.
ATTRIBUTES = {
    "birth_city": (
        CITIES,
        ["{n} was born in {v}.", "{n} was born in the city of {v}.", "The hometown of {n} is {v}."],
        ["Where was {n} born?", "In which city was {n} born?", "What is the hometown of {n}?"],
    ),
    "birth_year": (
        [str(y) for y in range(1931, 2006)],
        ["{n} was born in the year {v}.", "The birth year of {n} is {v}."],
        ["When was {n} born?", "In what year was {n} born?", "What is the birth year of {n}?"],
    ),
    "home_country": (
        COUNTRIES,
        ["{n} now lives in {v}.", "These days {n} lives in {v}.", "{n} moved to {v} later on."],
        ["Where does {n} live now?", "In which country does {n} live?", "Where did {n} move to?"],
    ),
    "job": (
        JOBS,
        ["{n} works as a {v}.", "{n} is a {v} by trade.", "By profession, {n} is a {v}."],
        ["What is the job of {n}?", "What does {n} do for a living?", "What is the profession of {n}?"],
    ),
    "employer": (
        ORGS,
        ["{n} is employed by {v}.", "{n} has worked for {v} for years.", "The employer of {n} is {v}."],
        ["Who employs {n}?", "For which organization does {n} work?", "Who is the employer of {n}?"],
    ),
    "join_month": (
        MONTHS,
        ["{n} joined the company in {v}.", "{n} started the current job in {v}."],
        ["When did {n} join the company?", "In which month did {n} start the current job?"],
    ),
    "instrument": (
        INSTRUMENTS,
        ["{n} plays the {v}.", "In the evenings, {n} practises the {v}."],
        ["What instrument does {n} play?", "Which instrument does {n} practise?"],
    ),
    "pet_name": (
        PET_NAMES,
        ["{n} has a pet called {v}.", "The pet of {n} is named {v}."],
        ["What is the name of the pet of {n}?", "What is the pet of {n} called?"],
    ),
    "pet_animal": (
        ANIMALS,
        ["{n} keeps a {v} at home.", "{n} owns a {v}."],
        ["What animal does {n} keep?", "What kind of animal does {n} own?"],
    ),
    "pet_color": (
        COLORS,
        ["The fur of the pet of {n} is {v}.", "The pet of {n} is {v} in colour."],
        ["What colour is the pet of {n}?", "What is the colour of the pet of {n}?"],
    ),
    "sport": (
        SPORTS,
        ["On weekends {n} plays {v}.", "{n} is a keen {v} player."],
        ["What sport does {n} play?", "Which game does {n} play on weekends?"],
    ),
}


def _paragraph(rng, people, facts_per_person, shared_facts):
    """Builds one paragraph dict (`context`, `qas`) about `people`."""
    attributes = list(ATTRIBUTES)
    facts = []  # (name, attribute, value, sentence template)
    known = {}
    common = rng.sample(attributes, facts_per_person)
    for name in people:
        chosen = common if shared_facts else rng.sample(attributes, facts_per_person)
        known[name] = chosen
        for attribute in chosen:
            pool, statements, _ = ATTRIBUTES[attribute]
            facts.append((name, attribute, rng.choice(pool), rng.choice(statements)))
    rng.shuffle(facts)

    context = ""
    spans = []  # (name, attribute, value, answer_start)
    for name, attribute, value, template in facts:
        if context:
            context += " "
        head, tail = template.split("{v}")
        head = head.replace("{n}", name)
        start = len(context) + len(head)
        context += head + value + tail.replace("{n}", name)
        spans.append((name, attribute, value, start))
    return context, spans, known


def generate_squad_demo(
    version="1.1",
    num_paragraphs=500,
    people_per_paragraph=1,
    facts_per_person=6,
    questions_per_paragraph=6,
    unanswerable_fraction=0.33,
    seed=0,
    id_prefix="demo",
    shared_facts=False,
    full_names=True,
):
    """Generates a templated SQuAD-style data set in the official JSON layout.

    Args:
        version: `"1.1"` (every question answerable) or `"2.0"` (a share of the
            questions has no answer in the paragraph, marked `is_impossible`).
        num_paragraphs: number of paragraphs (one article per 25 paragraphs).
        people_per_paragraph: invented people described in each paragraph.
        facts_per_person: facts stated about each person (of the 11 kinds).
        questions_per_paragraph: questions asked about each paragraph.
        unanswerable_fraction: v2.0 only, the share of unanswerable questions.
        seed: random seed; the same arguments give the same data.
        id_prefix: prefix of the question ids (keep train and dev ids apart).
        shared_facts: state the same kinds of fact for every person of a paragraph, so
            that only the name in the question tells which value is asked for (with
            several people and without it, finding the asked kind of value is often
            enough).
        full_names: first and last names (else first names only, distinct within a
            paragraph).

    Returns: the dataset dict `{"version", "data": [articles]}`.

    Example:
    >>> data = generate_squad_demo("2.0", num_paragraphs=2, seed=1)
    >>> qa = data["data"][0]["paragraphs"][0]["qas"][0]
    >>> sorted(qa)
    ['answers', 'id', 'is_impossible', 'question']
    """
    version = str(version)
    if version not in ("1.1", "2.0"):
        raise ValueError(f"Unknown SQuAD version {version!r}; expected '1.1' or '2.0'.")
    version_2 = version == "2.0"
    if not 1 <= facts_per_person <= len(ATTRIBUTES):
        raise ValueError(f"facts_per_person must be in 1..{len(ATTRIBUTES)}, got {facts_per_person}.")
    rng = random.Random(seed)
    names = [f"{f} {l}" for f in FIRST_NAMES for l in LAST_NAMES] if full_names else list(FIRST_NAMES)
    articles = []
    question_number = 0
    for p in range(num_paragraphs):
        if p % 25 == 0:
            articles.append({"title": f"Demo_people_{len(articles)}", "paragraphs": []})
        people = rng.sample(names, people_per_paragraph)
        context, spans, known = _paragraph(rng, people, facts_per_person, shared_facts)
        qas = []
        for _ in range(questions_per_paragraph):
            question_number += 1
            qid = f"{id_prefix}-{question_number:06d}"
            if version_2 and rng.random() < unanswerable_fraction:
                if rng.random() < 0.5:  # somebody not in the paragraph
                    name = rng.choice(names)
                    while name in known:
                        name = rng.choice(names)
                    attribute = rng.choice(list(ATTRIBUTES))
                else:  # a fact the paragraph does not state
                    name = rng.choice(people)
                    attribute = rng.choice([a for a in ATTRIBUTES if a not in known[name]])
                question = rng.choice(ATTRIBUTES[attribute][2]).format(n=name)
                qas.append({"question": question, "id": qid, "answers": [], "is_impossible": True})
                continue
            name, attribute, value, start = rng.choice(spans)
            question = rng.choice(ATTRIBUTES[attribute][2]).format(n=name)
            qa = {"question": question, "id": qid, "answers": [{"text": value, "answer_start": start}]}
            if version_2:
                qa["is_impossible"] = False
            qas.append(qa)
        articles[-1]["paragraphs"].append({"context": context, "qas": qas})
    return {"version": "v2.0" if version_2 else "1.1", "data": articles}


def demo_vocabulary(*datasets):
    """A WordPiece vocabulary covering the demo data: the special tokens, every word
    and punctuation mark of the texts (lowercased), and every letter and digit alone
    and as a `##` continuation (so any ASCII word still tokenizes)."""
    words = set()
    for data in datasets:
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                texts = [paragraph["context"]] + [qa["question"] for qa in paragraph["qas"]]
                for text in texts:
                    words.update(re.findall(r"[a-z0-9]+|[^a-z0-9\s]", text.lower()))
    chars = string.ascii_lowercase + string.digits
    pieces = set(chars) | {"##" + c for c in chars} | set(string.punctuation)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return specials + sorted(words | pieces)


def write_squad_demo(output_dir, version="1.1", num_train_paragraphs=1800, num_dev_paragraphs=80, seed=0):
    """Generates the demo train and dev sets and their vocabulary into `output_dir`.

    Writes `train-v{version}.json`, `dev-v{version}.json` and `vocab.txt`.

    Returns: dict of the paths: `train_file`, `predict_file`, `vocab`.
    """
    os.makedirs(output_dir, exist_ok=True)
    train = generate_squad_demo(version, num_train_paragraphs, seed=seed, id_prefix="train")
    dev = generate_squad_demo(version, num_dev_paragraphs, seed=seed + 1, id_prefix="dev")
    paths = {
        "train_file": os.path.join(output_dir, f"train-v{version}.json"),
        "predict_file": os.path.join(output_dir, f"dev-v{version}.json"),
        "vocab": os.path.join(output_dir, "vocab.txt"),
    }
    for key, data in (("train_file", train), ("predict_file", dev)):
        with open(paths[key], "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
    write_vocabulary(demo_vocabulary(train, dev), paths["vocab"])
    return paths
