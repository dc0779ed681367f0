//! The house's layout, checked: the rules ARCHITECTURE.md states under "Layers" hold for
//! every file of `src/` (and the lengths for `python/src/` and `web/src/` too).
//!
//! - **No import circle.** An edge is a `use crate::…`, `use super::…` or `use self::…`
//!   (re-exports included: a module that re-exports its children depends on them) or an
//!   inline `crate::…`/`super::…` path, outside `#[cfg(test)]` items; it points at the file
//!   of the longest module prefix of the path.
//! - **Layers point one way**: ARCHITECTURE.md's layer table puts every file in exactly one
//!   layer, and an edge never goes to a higher one.
//! - **A name is imported from the file that defines it**, not through a re-export.
//! - **`src/backends/` names no kernel** (no identifier or string with a kernel's name as a
//!   word) **and no other backend** (no edge into another backend's files).
//! - **No function over [`MAX_FUNCTION_LINES`] lines, no file over [`MAX_FILE_LINES`].**
//!
//! Every breach fails the test, with the file and line that breaks the rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

const MAX_FUNCTION_LINES: usize = 80;
const MAX_FILE_LINES: usize = 600;

/// One source file of the crate, parsed.
struct Source {
    /// Relative to the repository root, with `/`: `src/backends/gpu/adapter.rs`.
    path: String,
    /// Its module path: `["backends", "gpu", "adapter"]` (`[]` for `src/lib.rs`).
    module: Vec<String>,
    ast: syn::File,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    let rel = path.strip_prefix(root()).expect("under the repository");
    rel.to_string_lossy().replace('\\', "/")
}

fn parse_crate() -> Vec<Source> {
    let mut paths = Vec::new();
    rust_files(&root().join("src"), &mut paths);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable source");
            let path = relative(&path);
            let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            let mut module: Vec<String> = path
                .trim_start_matches("src/")
                .trim_end_matches(".rs")
                .split('/')
                .map(str::to_owned)
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            Source { path, module, ast }
        })
        .collect()
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<TokenStream>().is_ok_and(|t| {
                let predicate: String = t.to_string().split_whitespace().collect();
                predicate == "test" || predicate.starts_with("all(test,")
            })
    })
}

/// The names a file defines at its top level (items, `macro_rules!`, child modules).
fn defined_names(file: &syn::File) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for item in &file.items {
        let ident = match item {
            syn::Item::Const(i) => Some(&i.ident),
            syn::Item::Enum(i) => Some(&i.ident),
            syn::Item::Fn(i) => Some(&i.sig.ident),
            syn::Item::Mod(i) => Some(&i.ident),
            syn::Item::Static(i) => Some(&i.ident),
            syn::Item::Struct(i) => Some(&i.ident),
            syn::Item::Trait(i) => Some(&i.ident),
            syn::Item::Type(i) => Some(&i.ident),
            syn::Item::Union(i) => Some(&i.ident),
            syn::Item::Macro(i) => {
                // What a macro invocation declares (`wgsl_struct! { struct Dims { … } }`).
                let tokens: Vec<TokenTree> = i.mac.tokens.clone().into_iter().collect();
                for pair in tokens.windows(2) {
                    if let [TokenTree::Ident(keyword), TokenTree::Ident(name)] = pair
                        && ["struct", "enum", "fn", "const"].contains(&&*keyword.to_string())
                    {
                        names.insert(name.to_string());
                    }
                }
                i.ident.as_ref()
            }
            _ => None,
        };
        names.extend(ident.map(ToString::to_string));
    }
    names
}

/// Macros exported at the crate root (`#[macro_export]`), by the file that defines them.
fn exported_macros(sources: &[Source]) -> BTreeMap<String, String> {
    let mut macros = BTreeMap::new();
    for source in sources {
        for item in &source.ast.items {
            if let syn::Item::Macro(m) = item
                && m.attrs.iter().any(|a| a.path().is_ident("macro_export"))
                && let Some(ident) = &m.ident
            {
                macros.insert(ident.to_string(), source.path.clone());
            }
        }
    }
    macros
}

/// A path as written in a file: its segments, whether it is a re-export (`pub use`), and
/// the line it is on.
struct Written {
    segments: Vec<String>,
    /// The inline modules (`mod gpu { … }`) the path is written in, outermost first.
    inline: Vec<String>,
    reexport: bool,
    line: usize,
}

/// Every `crate::`/`super::`/`self::` path of a file outside `#[cfg(test)]` items.
#[derive(Default)]
struct PathCollector {
    paths: Vec<Written>,
    inline: Vec<String>,
}

impl PathCollector {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, public);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.push_use(prefix, n.ident.to_string(), public, n),
            syn::UseTree::Rename(r) => self.push_use(prefix, r.ident.to_string(), public, r),
            syn::UseTree::Glob(g) => self.push_use(prefix, "*".into(), public, g),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree, public);
                }
            }
        }
    }

    fn push_use(
        &mut self,
        prefix: &[String],
        name: String,
        public: bool,
        at: &impl syn::spanned::Spanned,
    ) {
        let mut segments = prefix.to_vec();
        if name != "self" {
            segments.push(name);
        }
        self.paths.push(Written {
            segments,
            inline: self.inline.clone(),
            reexport: public,
            line: at.span().start().line,
        });
    }

    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if id == "crate" || id == "super" => {
                    let mut segments = vec![id.to_string()];
                    let mut j = i + 1;
                    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) =
                        (tokens.get(j), tokens.get(j + 1))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        match tokens.get(j + 2) {
                            Some(TokenTree::Ident(next)) => segments.push(next.to_string()),
                            _ => break,
                        }
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.paths.push(Written {
                            segments,
                            inline: self.inline.clone(),
                            reexport: false,
                            line: id.span().start().line,
                        });
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_cfg_test(attrs) {
            return;
        }
        match item {
            syn::Item::Mod(m) if m.content.is_some() => {
                self.inline.push(m.ident.to_string());
                syn::visit::visit_item(self, item);
                self.inline.pop();
            }
            _ => syn::visit::visit_item(self, item),
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let public = !matches!(item.vis, syn::Visibility::Inherited);
        self.use_tree(&mut Vec::new(), &item.tree, public);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let first = path.segments.first().map(|s| s.ident.to_string());
        if matches!(first.as_deref(), Some("crate" | "super")) && path.segments.len() > 1 {
            self.paths.push(Written {
                segments: path.segments.iter().map(|s| s.ident.to_string()).collect(),
                inline: self.inline.clone(),
                reexport: false,
                line: path.segments[0].ident.span().start().line,
            });
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_vis_restricted(&mut self, _: &'ast syn::VisRestricted) {
        // `pub(in crate::x)` says who may see an item; it depends on nothing.
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.tokens(mac.tokens.clone());
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Docs and attributes name paths for readers (intra-doc links), not the compiler.
    }
}

/// The crate's files, its modules and the edges between them.
struct Graph<'a> {
    sources: &'a [Source],
    by_module: BTreeMap<Vec<String>, usize>,
    /// `edges[i]`: the files file `i` depends on, with the line of one path that says so.
    edges: Vec<BTreeMap<usize, usize>>,
    /// Breaches of "import a name from the file that defines it".
    re_exported: Vec<String>,
}

impl<'a> Graph<'a> {
    fn new(sources: &'a [Source]) -> Self {
        let by_module = sources
            .iter()
            .enumerate()
            .map(|(i, s)| (s.module.clone(), i))
            .collect();
        let mut graph = Graph {
            sources,
            by_module,
            edges: vec![BTreeMap::new(); sources.len()],
            re_exported: Vec::new(),
        };
        let defined: Vec<_> = sources.iter().map(|s| defined_names(&s.ast)).collect();
        let macros = exported_macros(sources);
        for (i, source) in sources.iter().enumerate() {
            let mut collector = PathCollector::default();
            collector.visit_file(&source.ast);
            for written in collector.paths {
                graph.add(i, &written, &defined, &macros);
            }
        }
        graph
    }

    /// The file a path points at and the name it takes from there.
    fn resolve(&self, from: usize, written: &Written) -> Option<(usize, Option<String>)> {
        let segments = &written.segments[..];
        let mut base = self.sources[from].module.clone();
        base.extend(written.inline.iter().cloned());
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        // Inline modules are part of their file: the longest prefix that is a file wins.
        base.extend_from_slice(rest);
        (0..=base.len()).rev().find_map(|n| {
            let file = *self.by_module.get(&base[..n])?;
            Some((file, base.get(n).cloned()))
        })
    }

    fn add(
        &mut self,
        from: usize,
        written: &Written,
        defined: &[BTreeSet<String>],
        macros: &BTreeMap<String, String>,
    ) {
        let Some((mut to, name)) = self.resolve(from, written) else {
            return;
        };
        if let Some(name) = &name
            && let Some(file) = macros.get(name)
            && written.segments.len() == 2
        {
            to = self
                .sources
                .iter()
                .position(|s| &s.path == file)
                .unwrap_or(to);
        } else if let Some(name) = name.filter(|n| n != "*" && !defined[to].contains(n))
            && to != from
            && !written.reexport
        {
            self.re_exported.push(format!(
                "{}:{} takes `{name}` from {}, which does not define it",
                self.sources[from].path, written.line, self.sources[to].path
            ));
        }
        if to != from {
            self.edges[from].entry(to).or_insert(written.line);
        }
    }

    /// The strongly connected components of more than one file (Tarjan's algorithm).
    fn circles(&self) -> Vec<Vec<usize>> {
        struct Walk<'g> {
            edges: &'g [BTreeMap<usize, usize>],
            index: Vec<Option<usize>>,
            low: Vec<usize>,
            stack: Vec<usize>,
            on_stack: Vec<bool>,
            next: usize,
            found: Vec<Vec<usize>>,
        }
        impl Walk<'_> {
            fn visit(&mut self, v: usize) {
                self.index[v] = Some(self.next);
                self.low[v] = self.next;
                self.next += 1;
                self.stack.push(v);
                self.on_stack[v] = true;
                for &w in self.edges[v].keys() {
                    match self.index[w] {
                        None => {
                            self.visit(w);
                            self.low[v] = self.low[v].min(self.low[w]);
                        }
                        Some(index) if self.on_stack[w] => self.low[v] = self.low[v].min(index),
                        Some(_) => {}
                    }
                }
                if Some(self.low[v]) == self.index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort_unstable();
                        self.found.push(component);
                    }
                }
            }
        }
        let n = self.sources.len();
        let mut walk = Walk {
            edges: &self.edges,
            index: vec![None; n],
            low: vec![0; n],
            stack: Vec::new(),
            on_stack: vec![false; n],
            next: 0,
            found: Vec::new(),
        };
        for v in 0..n {
            if walk.index[v].is_none() {
                walk.visit(v);
            }
        }
        walk.found
    }
}

/// ARCHITECTURE.md's layer table: `(layer name, the globs of its files)`, bottom first.
fn layer_table() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Layers"))
        .expect("ARCHITECTURE.md has a section \"## Layers\"");
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| layer"))
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let globs = cells[2]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            (format!("{} {}", cells[0], cells[1]), globs)
        })
        .collect()
}

/// `*` matches within one path component, `**` any number of components.
fn glob_matches(glob: &str, path: &str) -> bool {
    fn parts(glob: &[&str], path: &[&str]) -> bool {
        match (glob.first(), path.first()) {
            (None, None) => true,
            (Some(&"**"), _) => (0..=path.len()).any(|skip| parts(&glob[1..], &path[skip..])),
            (Some(g), Some(p)) => component(g, p) && parts(&glob[1..], &path[1..]),
            _ => false,
        }
    }
    fn component(glob: &str, text: &str) -> bool {
        match glob.split_once('*') {
            None => glob == text,
            Some((head, tail)) => {
                text.starts_with(head)
                    && (head.len()..=text.len())
                        .any(|at| component(tail, &text[at..]) && text.is_char_boundary(at))
            }
        }
    }
    let glob: Vec<&str> = glob.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    parts(&glob, &path)
}

/// Every breach of the layer rules, as `(rule, what)`.
fn layer_breaches(sources: &[Source], graph: &Graph<'_>) -> Vec<(&'static str, String)> {
    let mut breaches = Vec::new();
    for circle in graph.circles() {
        let files: Vec<&str> = circle.iter().map(|&i| sources[i].path.as_str()).collect();
        breaches.push(("import circle", files.join(" ")));
    }
    for line in &graph.re_exported {
        breaches.push(("import through a re-export", line.clone()));
    }
    let table = layer_table();
    let layer_of: Vec<Option<usize>> = sources
        .iter()
        .map(|source| {
            let layers: Vec<usize> = (0..table.len())
                .filter(|&l| table[l].1.iter().any(|g| glob_matches(g, &source.path)))
                .collect();
            match layers[..] {
                [layer] => Some(layer),
                [] => {
                    breaches.push(("layer table", format!("{} is in no layer", source.path)));
                    None
                }
                _ => {
                    let names: Vec<&str> = layers.iter().map(|&l| table[l].0.as_str()).collect();
                    let what = format!("{} is in layers {}", source.path, names.join(", "));
                    breaches.push(("layer table", what));
                    None
                }
            }
        })
        .collect();
    for (from, edges) in graph.edges.iter().enumerate() {
        for (&to, &line) in edges {
            if let (Some(a), Some(b)) = (layer_of[from], layer_of[to])
                && b > a
            {
                let what = format!(
                    "{}:{line} ({}) uses {} ({})",
                    sources[from].path, table[a].0, sources[to].path, table[b].0
                );
                breaches.push(("upward edge", what));
            }
            let backend_of = |path: &str| {
                let rest = path.strip_prefix("src/backends/")?;
                rest.split_once('/')
                    .map(|(dir, _)| dir.to_owned())
                    .or_else(|| (rest != "mod.rs").then(|| rest.trim_end_matches(".rs").into()))
            };
            if let (Some(a), Some(b)) = (
                backend_of(&sources[from].path),
                backend_of(&sources[to].path),
            ) && a != b
            {
                let what = format!("{}:{line} uses {}", sources[from].path, sources[to].path);
                breaches.push(("backend names another backend", what));
            }
        }
    }
    breaches
}

/// The words of an identifier or a string: `NormKind` → `norm`, `kind`.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            words.push(std::mem::take(&mut word));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    words.push(word);
    words.retain(|w| !w.is_empty());
    words
}

/// Identifiers and string literals of a file outside `#[cfg(test)]` items and docs.
#[derive(Default)]
struct Names {
    found: Vec<(String, usize)>,
}

impl Names {
    fn tokens(&mut self, tokens: TokenStream) {
        for token in tokens {
            match token {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) => self.found.push((id.to_string(), id.span().start().line)),
                TokenTree::Literal(l) => self.found.push((l.to_string(), l.span().start().line)),
                TokenTree::Punct(_) => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_cfg_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_ident(&mut self, id: &'ast proc_macro2::Ident) {
        self.found.push((id.to_string(), id.span().start().line));
    }

    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.found.push((lit.value(), lit.span().start().line));
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.tokens(mac.tokens.clone());
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

fn kernel_names_in_backends(sources: &[Source]) -> Vec<(&'static str, String)> {
    let kernels: BTreeSet<String> = std::fs::read_dir(root().join("src/kernels"))
        .expect("src/kernels")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut breaches = Vec::new();
    for source in sources
        .iter()
        .filter(|s| s.path.starts_with("src/backends/"))
    {
        let mut names = Names::default();
        names.visit_file(&source.ast);
        let mut named = BTreeSet::new();
        for (text, _) in &names.found {
            named.extend(words(text).into_iter().filter(|w| kernels.contains(w)));
        }
        for kernel in named {
            let what = format!("{} names `{kernel}`", source.path);
            breaches.push(("kernel name in src/backends", what));
        }
    }
    breaches
}

/// Functions (free, inherent, trait) with their first and last lines.
#[derive(Default)]
struct Functions {
    found: Vec<(String, usize, usize)>,
}

impl Functions {
    fn record(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let start = sig.fn_token.span.start().line;
        let end = block.brace_token.span.close().start().line;
        self.found.push((sig.ident.to_string(), start, end));
    }
}

impl<'ast> Visit<'ast> for Functions {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.record(&f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.record(&f.sig, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.record(&f.sig, block);
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

fn lengths() -> Vec<(&'static str, String)> {
    let mut paths = Vec::new();
    rust_files(&root().join("src"), &mut paths);
    rust_files(&root().join("python/src"), &mut paths);
    rust_files(&root().join("web/src"), &mut paths);
    let mut breaches = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable source");
        let path = relative(&path);
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            breaches.push(("long file", format!("{path} has {lines} lines")));
        }
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut functions = Functions::default();
        functions.visit_file(&ast);
        for (name, start, end) in functions.found {
            let lines = end + 1 - start;
            if lines > MAX_FUNCTION_LINES {
                let what = format!("{path}:{start} `{name}` has {lines} lines");
                breaches.push(("long function", what));
            }
        }
    }
    breaches
}

#[test]
fn the_layers_hold() {
    let sources = parse_crate();
    let graph = Graph::new(&sources);
    let mut breaches = layer_breaches(&sources, &graph);
    breaches.extend(kernel_names_in_backends(&sources));
    breaches.extend(lengths());
    let report: Vec<String> = breaches.iter().map(|(r, w)| format!("{r}: {w}")).collect();
    assert!(
        report.is_empty(),
        "the layers ARCHITECTURE.md states are broken:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_must() {
    // Every rule catches the breach it exists for, on code written to break it.
    let source = |path: &str, code: &str| Source {
        path: path.into(),
        module: path
            .trim_start_matches("src/")
            .trim_end_matches(".rs")
            .split('/')
            .map(str::to_owned)
            .filter(|m| m != "mod")
            .collect(),
        ast: syn::parse_file(code).expect("test code parses"),
    };
    let sources = [
        source("src/a/mod.rs", "pub struct A; fn f() { crate::c::g(); }"),
        source("src/a/b.rs", "use super::A; pub struct B;"),
        source("src/c.rs", "pub fn g() { let _ = crate::a::B; }"),
        source("src/d.rs", "#[cfg(test)] mod tests { use crate::c::g; }"),
    ];
    let graph = Graph::new(&sources);
    let circles = graph.circles();
    assert_eq!(circles, [vec![0, 2]], "a → c → a, and b → a only");
    assert_eq!(graph.re_exported.len(), 1, "{:?}", graph.re_exported);
    assert!(graph.re_exported[0].starts_with("src/c.rs:1 takes `B` from src/a/mod.rs"));
    assert!(
        graph.edges[3].is_empty(),
        "test modules are not the library's edges"
    );
    assert_eq!(
        words("NormKind norm_l2 \"julia\""),
        ["norm", "kind", "norm", "l2", "julia"]
    );
    assert!(glob_matches(
        "src/kernels/*/mod.rs",
        "src/kernels/julia/mod.rs"
    ));
    assert!(glob_matches(
        "src/backends/gpu/**",
        "src/backends/gpu/wgsl/x.rs"
    ));
    assert!(!glob_matches(
        "src/kernels/*.rs",
        "src/kernels/julia/mod.rs"
    ));
}
