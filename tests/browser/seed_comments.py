#!/usr/bin/env python3
"""Seeds approved comments straight into a Kintsugi SQLite database.

    python3 tests/browser/seed_comments.py DB_PATH SLUG COUNT

Writes COUNT published comments on the article SLUG as a busy article has
them: threads of a reader's question, other readers' answers, the coach's
reply (is_coach, with the Coach badge) and now and then a reply to a reply
(depth 2, and past the deepest level one that says whom it answers). The
texts are short, varied and realistic, so Lighthouse and the eye judge a
page like a real one. Run it after `kintsugi migrate` and before the server
starts (the server caches pages): the comment_counts triggers keep the
article's counts right. The coach's name is COACH_NAME (default "Maya
Brennan", the account judges.sh makes) and their email COACH_EMAIL.
Prints how many comments and threads it wrote.
"""
import datetime
import html
import os
import sqlite3
import sys

COACH_NAME = os.environ.get("COACH_NAME", "Maya Brennan")
COACH_EMAIL = os.environ.get("COACH_EMAIL", "coach@example.com")
COACH = object()  # marks the coach as the author

# Each thread: the question, then replies as (author, text, reply_to) where
# reply_to is the index in the thread of the comment answered (0: the question).
THREADS = [
    ("Jonas", "Day 9 without texting him. Mornings are the worst part. Does it ever get easier before the second week is over?", [
        ("Priya", "For me the mornings eased around day 12. Not gone, just quieter. You are doing the hard part already.", 0),
        (COACH, "Mornings are hard because the habit of reaching for your phone is strongest then. Try putting it in another room for the first 30 minutes and have one small fixed thing to do instead: tea, a walk round the block, a shower.", 0),
        ("Jonas", "The phone in the kitchen trick helped today. Thank you both.", 2),
    ]),
    ("Elena", "Is it normal to feel relieved one hour and completely lost the next?", [
        ("Marcus", "Yes. I swung like that for weeks. The relief doesn't mean you didn't love them.", 0),
        (COACH, "Completely normal. Grief after a breakup comes in waves, not in a straight line. Writing down the relieved moments can help on the lost days: they were real too.", 0),
    ]),
    ("Sam", "I deleted her number but I still know it by heart. Is that silly?", [
        ("Aoife", "Not silly at all. Deleting it is a signal to yourself, not a memory wipe.", 0),
        ("Sam", "That's a kind way to see it. I'll keep it deleted.", 1),
    ]),
    ("Noor", "We share a dog. How do I do the first two weeks when we still have to hand her over every Sunday?", [
        (COACH, "Keep the handovers short and about the dog only: a fixed time, a fixed place, a message template if you need one. No contact can mean minimal contact when you share a life like this.", 0),
        ("Lukas", "We did handovers at a park gate for a year. Boring and predictable was exactly what I needed.", 0),
        ("Noor", "A fixed place is a good idea. Our flat is full of memories.", 1),
    ]),
    ("Hannah", "Second week and I can't eat properly. Just coffee and toast. Anyone else?", [
        ("Ines", "Same here. Soup and bananas got me through. Small things, often.", 0),
        (COACH, "Your body is under real stress right now. Small, simple meals count. If it goes on for more than a couple of weeks or you feel unwell, please talk to a doctor.", 0),
    ]),
    ("Mateo", "How do you stop checking their social media? I unfollowed but I still search for the profile.", [
        ("Grace", "I asked a friend to change my password on one app for a month. Drastic, but it worked.", 0),
        ("Mateo", "Drastic sounds right for me honestly.", 1),
        ("Grace", "Report back in a week, we're rooting for you.", 2),
        (COACH, "Every search restarts the ache a little. Blocking the profile for now is not rude; you can decide later whether to undo it.", 0),
    ]),
    ("Chloe", "Friends keep telling me to get back out there. I just want to sleep. Am I doing it wrong?", [
        (COACH, "There is no wrong speed. Rest is part of the first two weeks. Seeing one friend for a walk is plenty; dating can wait until you want it for yourself.", 0),
        ("Daniel", "Sleeping a lot was my body's way of getting through it. It passed.", 0),
    ]),
    ("Olu", "Day 4. I wrote a long message and didn't send it. Proud and sad at the same time.", [
        ("Mira", "Proud is the right word. Keep those messages in a notes file, it helps.", 0),
        ("Olu", "Started the notes file. Already two entries.", 1),
    ]),
    ("Freya", "He texted happy birthday. Do I have to answer?", [
        (COACH, "You don't have to. If silence feels too harsh, a short 'Thank you' with nothing else is enough, and then back to no contact.", 0),
        ("Freya", "I went with a short thank you. Feeling okay about it.", 1),
    ]),
    ("Keiko", "How long should no contact be when we work in the same building?", [
        ("Ben", "I changed my lunch time and took the stairs for a month. Small changes add up.", 0),
        (COACH, "At work, aim for polite and brief rather than none: greetings, work topics, nothing personal. The rest of the plan still applies outside work.", 0),
    ]),
    ("Rafael", "The weekends are so empty now. What did you fill them with?", [
        ("Lena", "Long walks with a podcast, and cooking one new thing every Saturday.", 0),
        ("Rafael", "Cooking sounds good. I used to love it before.", 1),
        ("Lena", "Then that's your Saturday sorted.", 2),
    ]),
    ("Amara", "Three weeks now and I feel a bit better. Thank you all for this thread.", [
        (COACH, "Thank you for coming back to say so. It helps the people who are on day one right now.", 0),
    ]),
]


def paragraph_html(text):
    """The HTML Kintsugi's comment Markdown gives a one-paragraph text
    (smart punctuation on)."""
    escaped = html.escape(text, quote=False).replace("'", "\u2019")
    return f"<p>{escaped}</p>\n"


def comments_to_write(count):
    """(thread number, index in thread, author, text, reply_to index), in
    posting order, cycling through THREADS with a marked second round."""
    out = []
    rnd = 0
    while len(out) < count:
        for t, (asker, question, replies) in enumerate(THREADS):
            suffix = "" if rnd == 0 else f" (week {rnd + 2})"
            out.append((rnd * len(THREADS) + t, 0, asker, question + suffix, None))
            for i, (author, text, reply_to) in enumerate(replies, start=1):
                out.append((rnd * len(THREADS) + t, i, author, text, reply_to))
        rnd += 1
    # The first COUNT: a thread may lose its last replies, never its question.
    # THREADS holds 40 comments, so COUNT=40 is every thread whole.
    return out[:count]


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: seed_comments.py DB_PATH SLUG COUNT")
    db_path, slug, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if not os.path.exists(db_path):
        sys.exit(f"seed_comments.py: no database at {db_path} (run `kintsugi migrate` first)")
    db = sqlite3.connect(db_path)
    cur = db.cursor()
    columns = {row[1] for row in cur.execute("PRAGMA table_info(comments)")}
    if not columns:
        sys.exit(f"seed_comments.py: {db_path} has no comments table (run `kintsugi migrate` first)")
    start = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0) - datetime.timedelta(days=30)
    ids = {}  # (thread, index) -> (id, depth, parent_id, author_name)
    threads = set()
    for n, (thread, index, author, text, reply_to) in enumerate(comments_to_write(count)):
        is_coach = author is COACH
        name = COACH_NAME if is_coach else author
        email = COACH_EMAIL if is_coach else f"{author.lower()}.{thread}@example.com"
        created = (start + datetime.timedelta(hours=13 * n + (n * 37) % 11)).strftime("%Y-%m-%d %H:%M:%S")
        row = {
            "article_slug": slug,
            "author_name": name,
            "author_email": email,
            "body_markdown": text,
            "body_html": paragraph_html(text),
            "status": "approved",
            "is_coach": 1 if is_coach else 0,
            "created_at": created,
        }
        if reply_to is None:
            row["depth"] = 0
            threads.add(thread)
        else:
            # Where the server itself puts a reply (db::comments::placement):
            # under the comment answered, or past the deepest level (depth 2)
            # beside it, saying whom it answers.
            parent_id, parent_depth, parent_parent, parent_name = ids[(thread, reply_to)]
            root_id = ids[(thread, 0)][0]
            depth = min(parent_depth + 1, 2)
            row["root_id"] = root_id
            row["reply_to_id"] = parent_id
            row["depth"] = depth
            if depth > parent_depth:
                row["parent_id"] = parent_id
            else:
                row["parent_id"] = parent_parent or parent_id
                row["reply_to_name"] = parent_name
        missing = set(row) - columns
        if missing:
            sys.exit(f"seed_comments.py: the comments table has no column(s) {sorted(missing)}")
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cur.execute(f"INSERT INTO comments ({names}) VALUES ({marks})", list(row.values()))
        ids[(thread, index)] = (cur.lastrowid, row["depth"], row.get("parent_id"), name)
    db.commit()
    counted = None
    try:
        counted = cur.execute(
            "SELECT public_comments, public_threads FROM comment_counts WHERE article_slug = ?", (slug,)
        ).fetchone()
    except sqlite3.OperationalError:
        pass  # an older schema without comment_counts
    db.close()
    print(f"seeded {count} approved comments in {len(threads)} threads on {slug}"
          + (f" (comment_counts: {counted[0]} comments, {counted[1]} threads)" if counted else ""))


if __name__ == "__main__":
    main()
