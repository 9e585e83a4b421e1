// "Reply" under a comment moves the comment form right under that comment,
// quoting its first lines, without reloading the page. Without JavaScript
// the link loads the page with the form already in place (?replyto=).
(function () {
  var form = document.getElementById("comment-form");
  if (!form || form.tagName !== "FORM") return;
  var heading = document.getElementById("comment-form-heading");
  var submit = form.querySelector("button[type=submit]");
  var home = document.createComment("comment form");
  form.parentNode.insertBefore(home, form);
  var original = {
    heading: heading ? heading.textContent : "",
    submit: submit ? submit.textContent : "",
  };
  // The words, in the site's language (data-* of the form).
  function words(name, fallback) {
    return form.getAttribute("data-" + name) || fallback;
  }
  var slot = null;
  var cancel = null;

  function excerpt(text, max) {
    var words = text.replace(/\s+/g, " ").trim().split(" ");
    var out = "";
    for (var i = 0; i < words.length; i++) {
      if (out && out.length + words[i].length + 1 > max) return out + "\u2026";
      out = out ? out + " " + words[i] : words[i];
    }
    return out;
  }

  function parentInput() {
    var input = form.querySelector("input[name=parent]");
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "parent";
      form.insertBefore(input, form.firstChild);
    }
    return input;
  }

  function clearReply() {
    var old = form.querySelectorAll(".comment-form__quote, .comment-form__replying");
    for (var i = 0; i < old.length; i++) old[i].parentNode.removeChild(old[i]);
  }

  function backHome() {
    clearReply();
    var input = form.querySelector("input[name=parent]");
    if (input) input.parentNode.removeChild(input);
    if (heading) heading.textContent = form.getAttribute("data-new-heading") || original.heading;
    if (submit) submit.textContent = words("post", "Post comment");
    home.parentNode.insertBefore(form, home.nextSibling);
    if (slot && slot.parentNode) slot.parentNode.removeChild(slot);
    slot = null;
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  function replyTo(link) {
    var id = link.getAttribute("data-reply-to");
    var item = document.getElementById("comment-" + id);
    if (!item) return false;
    var author = item.querySelector(".comment__author");
    var name = author ? author.textContent.trim() : "";
    var depth = 1;
    var match = /comment--depth-(\d+)/.exec(item.className);
    if (match) depth = Number(match[1]) + 1;
    if (slot && slot.parentNode) slot.parentNode.removeChild(slot);
    slot = document.createElement("li");
    slot.className = "comment-reply-slot comment--depth-" + depth;
    item.parentNode.insertBefore(slot, item.nextSibling);
    clearReply();
    parentInput().value = id;
    if (heading) heading.textContent = words("reply-heading", "Your reply to {name}")
      .replace("{name}", function () { return name; });
    if (submit) submit.textContent = words("post-reply", "Post reply");
    var body = item.querySelector(".comment__body");
    var after = heading ? heading.nextSibling : form.firstChild;
    if (body) {
      var quote = document.createElement("blockquote");
      quote.className = "comment-form__quote";
      var p = document.createElement("p");
      p.textContent = excerpt(body.textContent, 240);
      quote.appendChild(p);
      form.insertBefore(quote, after);
      after = quote.nextSibling;
    }
    var line = document.createElement("p");
    line.className = "comment-form__replying";
    cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button button--quiet";
    cancel.textContent = words("cancel-reply", "Cancel the reply");
    cancel.addEventListener("click", backHome);
    line.appendChild(cancel);
    form.insertBefore(line, after);
    slot.appendChild(form);
    var text = document.getElementById("comment-body");
    if (text) text.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.comment__reply") : null;
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (replyTo(link)) event.preventDefault();
  });
})();
