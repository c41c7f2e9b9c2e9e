"""A file's language from its name, linguist-style: special names first (Makefile, Dockerfile), then the extension.

A small table on purpose (docs/metrics.md, Languages): the maintained packages that map names to languages either
tag file types rather than name languages (`identify`) or bind a Go library per Python version (`enry`); the
names here are GitHub linguist's. A path whose name and extension are not in the table is `Other`, so the
languages of a commit always sum to its lines. Only the name is read, never the content: ambiguous extensions
take their most common language (`.h` is C, `.m` Objective-C, `.pl` Perl, `.ts` TypeScript).
"""

from __future__ import annotations

OTHER = "Other"
MAX_LANGUAGE = 40  # the stored column's length

_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "Ada": ("adb", "ads"),
    "Assembly": ("asm", "s", "nasm"),
    "Batchfile": ("bat", "cmd"),
    "C": ("c", "h"),
    "C#": ("cs", "csx"),
    "C++": ("cc", "cpp", "cxx", "c++", "hh", "hpp", "hxx", "h++", "ipp", "tcc", "inl"),
    "Clojure": ("clj", "cljs", "cljc", "edn"),
    "CMake": ("cmake",),
    "CoffeeScript": ("coffee",),
    "CSS": ("css",),
    "CSV": ("csv", "tsv"),
    "Cuda": ("cu", "cuh"),
    "D": ("d",),
    "Dart": ("dart",),
    "Elixir": ("ex", "exs"),
    "Elm": ("elm",),
    "Emacs Lisp": ("el",),
    "Erlang": ("erl", "hrl"),
    "F#": ("fs", "fsi", "fsx"),
    "Fortran": ("f", "f77", "f90", "f95", "f03", "for"),
    "Go": ("go",),
    "GraphQL": ("graphql", "gql"),
    "Groovy": ("groovy", "gradle", "gvy"),
    "Haskell": ("hs", "lhs"),
    "HCL": ("hcl", "tf", "tfvars"),
    "HTML": ("html", "htm", "xhtml"),
    "INI": ("ini", "cfg", "conf", "properties"),
    "Java": ("java",),
    "JavaScript": ("js", "mjs", "cjs", "jsx"),
    "Jinja": ("jinja", "jinja2", "j2"),
    "JSON": ("json", "jsonc", "json5", "geojson", "ipynb"),
    "Julia": ("jl",),
    "Kotlin": ("kt", "kts"),
    "Less": ("less",),
    "Lua": ("lua",),
    "Makefile": ("mk", "mak"),
    "Markdown": ("md", "markdown", "mdx"),
    "Nix": ("nix",),
    "Objective-C": ("m",),
    "Objective-C++": ("mm",),
    "OCaml": ("ml", "mli"),
    "Pascal": ("pas", "pp"),
    "Perl": ("pl", "pm", "t"),
    "PHP": ("php", "phtml"),
    "PowerShell": ("ps1", "psm1", "psd1"),
    "Protocol Buffer": ("proto",),
    "Python": ("py", "pyi", "pyw", "pyx", "pxd"),
    "R": ("r", "rmd"),
    "reStructuredText": ("rst",),
    "Ruby": ("rb", "rake", "gemspec", "ru"),
    "Rust": ("rs",),
    "Sass": ("sass",),
    "Scala": ("scala", "sc", "sbt"),
    "SCSS": ("scss",),
    "Shell": ("sh", "bash", "zsh", "ksh", "fish"),
    "SQL": ("sql", "psql", "plsql"),
    "Svelte": ("svelte",),
    "Swift": ("swift",),
    "TeX": ("tex", "sty", "cls", "bib"),
    "Text": ("txt", "text"),
    "TOML": ("toml",),
    "TypeScript": ("ts", "tsx", "mts", "cts"),
    "Vue": ("vue",),
    "XML": ("xml", "xsd", "xsl", "xslt", "svg", "plist", "csproj", "vcxproj", "props", "targets", "resx"),
    "YAML": ("yml", "yaml"),
    "Zig": ("zig",),
}

#: Whole file names (any case) that decide the language whatever their extension.
_NAMES: dict[str, str] = {
    "makefile": "Makefile",
    "gnumakefile": "Makefile",
    "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "cmakelists.txt": "CMake",
    "rakefile": "Ruby",
    "gemfile": "Ruby",
    "podfile": "Ruby",
    "vagrantfile": "Ruby",
    "jenkinsfile": "Groovy",
    "build.gradle": "Groovy",
    "meson.build": "Meson",
    "sconstruct": "Python",
    "sconscript": "Python",
    "build.bazel": "Starlark",
    "workspace": "Starlark",
    "justfile": "Just",
    ".bashrc": "Shell",
    ".bash_profile": "Shell",
    ".zshrc": "Shell",
    ".profile": "Shell",
    "go.mod": "Go Module",
    "go.sum": "Go Checksums",
}

#: File names that start a language (Dockerfile.dev, Makefile.am): the part before the first dot.
_STEMS: dict[str, str] = {"dockerfile": "Dockerfile", "makefile": "Makefile", "containerfile": "Dockerfile"}

_BY_EXTENSION = {ext: language for language, extensions in _EXTENSIONS.items() for ext in extensions}


def of(path: str) -> str:
    """The language of a file at `path` (a repository path with `/`), or `Other`."""
    name = path.rsplit("/", 1)[-1].lower()
    found = _NAMES.get(name)
    if found is not None:
        return found
    dot = name.rfind(".")
    if dot > 0:
        found = _BY_EXTENSION.get(name[dot + 1 :])
        if found is not None:
            return found
        found = _STEMS.get(name[: name.find(".")])
        if found is not None:
            return found
    return OTHER


def known() -> list[str]:
    """Every language the table can name (docs/metrics.md lists them), `Other` last."""
    return [*sorted({*_EXTENSIONS, *_NAMES.values()}, key=str.lower), OTHER]
