#!/usr/bin/env python3
"""Writes a WordPress export (WXR 1.2) of a made-up coaching blog, shaped as
WordPress 6.x writes it (see tests/fixtures/wordpress/README.md), for the
import benchmark: `make_export.py POSTS COMMENTS > export.xml`.

Posts mix Gutenberg block markup and classic-editor HTML; comments come in
threads (replies to earlier comments of the same post) with every status."""
import random
import sys

posts = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
comments = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
rnd = random.Random(14)
out = sys.stdout

WORDS = ("breakup heal gentle evening walk friend letter silence grief hope "
         "boundary morning coffee message phone courage kind slowly week "
         "month rest cry laugh garden music notebook sleep trust").split()


def sentence(n=12):
    s = " ".join(rnd.choice(WORDS) for _ in range(n))
    return s[0].upper() + s[1:] + "."


def cdata(s):
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


out.write('<?xml version="1.0" encoding="UTF-8" ?>\n')
out.write('<!-- generator="WordPress/6.8.3" created="2026-11-30 10:00" -->\n')
out.write('<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
          'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
          'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
          'xmlns:dc="http://purl.org/dc/elements/1.1/" '
          'xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n')
out.write("\t<title>Bench Blog</title>\n\t<link>https://bench.example</link>\n"
          "\t<description>Generated</description>\n\t<language>en-US</language>\n"
          "\t<wp:wxr_version>1.2</wp:wxr_version>\n"
          "\t<wp:base_site_url>https://bench.example</wp:base_site_url>\n"
          "\t<wp:base_blog_url>https://bench.example</wp:base_blog_url>\n")
out.write("\t<wp:author><wp:author_id>1</wp:author_id><wp:author_login>"
          + cdata("coach") + "</wp:author_login><wp:author_email>" + cdata("coach@bench.example")
          + "</wp:author_email><wp:author_display_name>" + cdata("The Coach")
          + "</wp:author_display_name></wp:author>\n")
cats = ["healing", "no-contact", "self-worth", "grief", "boundaries"]
for i, c in enumerate(cats):
    out.write(f"\t<wp:category><wp:term_id>{i + 2}</wp:term_id><wp:category_nicename>{cdata(c)}"
              f"</wp:category_nicename><wp:category_parent>{cdata('')}</wp:category_parent>"
              f"<wp:cat_name>{cdata(c.replace('-', ' ').title())}</wp:cat_name></wp:category>\n")

per_post = [comments // posts] * posts
for i in range(comments - sum(per_post)):
    per_post[i] += 1
comment_id = 1
for p in range(posts):
    pid = 1000 + p
    year, month, day = 2020 + p % 6, 1 + p % 12, 1 + p % 28
    slug = f"post-{p}-{rnd.choice(WORDS)}"
    date = f"{year}-{month:02d}-{day:02d} 09:{p % 60:02d}:00"
    gmt = f"{year}-{month:02d}-{day:02d} 08:{p % 60:02d}:00"
    if p % 2:
        body = "".join(f'<!-- wp:paragraph -->\n<p>{sentence(30)} <strong>{sentence(3)}</strong></p>\n<!-- /wp:paragraph -->\n\n'
                       for _ in range(8))
        body += '<!-- wp:list -->\n<ul class="wp-block-list"><li>' + sentence(5) + '</li><li>' + sentence(5) + '</li></ul>\n<!-- /wp:list -->'
    else:
        body = "\n\n".join(sentence(30) + "\n" + sentence(10) for _ in range(8)) + "\n<!--more-->\n" + sentence(20)
    out.write("\t<item>\n")
    out.write(f"\t\t<title>{cdata('Post ' + str(p) + ': ' + sentence(5))}</title>\n")
    out.write(f"\t\t<link>https://bench.example/{year}/{month:02d}/{day:02d}/{slug}/</link>\n")
    out.write(f"\t\t<dc:creator>{cdata('coach')}</dc:creator>\n")
    out.write(f'\t\t<guid isPermaLink="false">https://bench.example/?p={pid}</guid>\n')
    out.write(f"\t\t<content:encoded>{cdata(body)}</content:encoded>\n")
    out.write(f"\t\t<excerpt:encoded>{cdata('')}</excerpt:encoded>\n")
    out.write(f"\t\t<wp:post_id>{pid}</wp:post_id>\n")
    out.write(f"\t\t<wp:post_date>{cdata(date)}</wp:post_date>\n\t\t<wp:post_date_gmt>{cdata(gmt)}</wp:post_date_gmt>\n")
    out.write(f"\t\t<wp:post_modified>{cdata(date)}</wp:post_modified>\n\t\t<wp:post_modified_gmt>{cdata(gmt)}</wp:post_modified_gmt>\n")
    out.write(f"\t\t<wp:comment_status>{cdata('open')}</wp:comment_status>\n")
    out.write(f"\t\t<wp:post_name>{cdata(slug)}</wp:post_name>\n")
    out.write(f"\t\t<wp:status>{cdata('publish')}</wp:status>\n\t\t<wp:post_parent>0</wp:post_parent>\n")
    out.write(f"\t\t<wp:menu_order>0</wp:menu_order>\n\t\t<wp:post_type>{cdata('post')}</wp:post_type>\n")
    out.write(f"\t\t<wp:post_password>{cdata('')}</wp:post_password>\n\t\t<wp:is_sticky>0</wp:is_sticky>\n")
    c = cats[p % len(cats)]
    out.write(f'\t\t<category domain="category" nicename="{c}">{cdata(c.title())}</category>\n')
    ids = []
    for n in range(per_post[p]):
        parent = rnd.choice(ids) if ids and rnd.random() < 0.4 else 0
        status = rnd.choices(["1", "0", "trash", "spam"], [90, 6, 2, 2])[0]
        coach = parent and rnd.random() < 0.3
        who = "The Coach" if coach else f"Reader {rnd.randint(1, 5000)}"
        email = "coach@bench.example" if coach else f"reader{rnd.randint(1, 5000)}@example.com"
        cdate = f"{year}-{month:02d}-{day:02d} {10 + n % 12:02d}:{n % 60:02d}:00"
        cgmt = f"{year}-{month:02d}-{day:02d} {9 + n % 12:02d}:{n % 60:02d}:00"
        text = sentence(25) + "\n\n" + sentence(15) + " <em>" + sentence(3) + "</em>"
        out.write("\t\t<wp:comment>\n")
        out.write(f"\t\t\t<wp:comment_id>{comment_id}</wp:comment_id>\n")
        out.write(f"\t\t\t<wp:comment_author>{cdata(who)}</wp:comment_author>\n")
        out.write(f"\t\t\t<wp:comment_author_email>{cdata(email)}</wp:comment_author_email>\n")
        out.write("\t\t\t<wp:comment_author_url></wp:comment_author_url>\n")
        out.write(f"\t\t\t<wp:comment_author_IP>{cdata('192.0.2.1')}</wp:comment_author_IP>\n")
        out.write(f"\t\t\t<wp:comment_date>{cdata(cdate)}</wp:comment_date>\n")
        out.write(f"\t\t\t<wp:comment_date_gmt>{cdata(cgmt)}</wp:comment_date_gmt>\n")
        out.write(f"\t\t\t<wp:comment_content>{cdata(text)}</wp:comment_content>\n")
        out.write(f"\t\t\t<wp:comment_approved>{cdata(status)}</wp:comment_approved>\n")
        out.write(f"\t\t\t<wp:comment_type>{cdata('comment')}</wp:comment_type>\n")
        out.write(f"\t\t\t<wp:comment_parent>{parent}</wp:comment_parent>\n")
        out.write(f"\t\t\t<wp:comment_user_id>{1 if coach else 0}</wp:comment_user_id>\n")
        out.write("\t\t</wp:comment>\n")
        ids.append(comment_id)
        comment_id += 1
    out.write("\t</item>\n")
out.write("</channel>\n</rss>\n")
