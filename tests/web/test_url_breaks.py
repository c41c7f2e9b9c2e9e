"""Long URLs wrap at their separators (a `<wbr>` after / ? & = #), never inside "//", and stay escaped."""

from __future__ import annotations

from gitproductivity.web.helpers import templates, url_breaks


def test_a_url_may_wrap_after_each_separator_only() -> None:
    got = str(url_breaks("https://hooks.example.com/services/T01?token=a&b=<x>#top"))
    assert got == (
        "https://<wbr>hooks.example.com/<wbr>services/<wbr>T01?<wbr>token=<wbr>a&amp;<wbr>b=<wbr>&lt;x&gt;#<wbr>top"
    )
    assert got.replace("<wbr>", "").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") == (
        "https://hooks.example.com/services/T01?token=a&b=<x>#top"
    )


def test_the_templates_use_it_as_the_url_filter() -> None:
    page = templates.env.from_string("<h1>{{ u | url }}</h1>").render(u="https://a.invalid/x/<script>")
    assert page == "<h1>https://<wbr>a.invalid/<wbr>x/<wbr>&lt;script&gt;</h1>"
