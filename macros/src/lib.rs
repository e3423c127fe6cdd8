//! The `#[cached]` attribute of `redis-func-cache`; use it through the
//! `redis-func-cache` crate, which documents it with examples.
#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Delimiter, Spacing, Span, TokenStream as TokenStream2, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, FnArg, GenericParam, ItemFn, LitStr, Pat, ReturnType, Type};

/// Caches a function's results in a `FuncCache`. See the `redis-func-cache`
/// crate's documentation of `cached` for the options and examples.
#[proc_macro_attribute]
pub fn cached(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as ItemFn);
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| options.parse(meta));
    syn::parse_macro_input!(attr with parser);
    match expand(options, item) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[derive(Default)]
struct Options {
    cache: Option<Expr>,
    skip: Vec<syn::Ident>,
    name: Option<LitStr>,
    version: Option<LitStr>,
    depends_on: Vec<syn::Path>,
    id: Option<syn::Ident>,
    lease_ms: Option<syn::LitInt>,
    key: Option<syn::Ident>,
}

const OPTIONS: &str = "expected `cache = <expr>`, `skip(<args>)`, `name = \"...\"`, `version = \"...\"`, `depends_on(<consts>)`, `id = <NAME>`, `key = <fn_name>` or `lease_ms = <ms>`";

impl Options {
    fn parse(&mut self, meta: syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("cache") {
            self.cache = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("skip") {
            meta.parse_nested_meta(|arg| {
                let ident = arg.path.get_ident().cloned().ok_or_else(|| {
                    arg.error("`skip(...)` takes argument names, e.g. `skip(pool, logger)`")
                })?;
                self.skip.push(ident);
                Ok(())
            })?;
        } else if meta.path.is_ident("name") {
            let name: LitStr = meta.value()?.parse()?;
            check_function_name(&name)?;
            self.name = Some(name);
        } else if meta.path.is_ident("version") {
            self.version = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("depends_on") {
            meta.parse_nested_meta(|dep| {
                self.depends_on.push(dep.path.clone());
                Ok(())
            })?;
        } else if meta.path.is_ident("id") {
            self.id = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("key") {
            self.key = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("lease_ms") {
            let ms: syn::LitInt = meta.value()?.parse()?;
            if ms.base10_parse::<u64>()? == 0 {
                return Err(syn::Error::new(
                    ms.span(),
                    "`lease_ms = 0`: a lease must outlast the function's run; give milliseconds",
                ));
            }
            self.lease_ms = Some(ms);
        } else {
            return Err(meta.error(format!("unknown option of #[cached]: {OPTIONS}")));
        }
        Ok(())
    }
}

/// A function name goes into key names (SPEC §4): no hash-tag braces, glob
/// characters or control characters, which would make a cluster refuse the
/// pair or let a purge pattern match another function's pairs.
fn check_function_name(name: &LitStr) -> syn::Result<()> {
    let text = name.value();
    if text.is_empty() {
        return Err(syn::Error::new(
            name.span(),
            "`name = \"\"`: give the function a name, or leave the option out",
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| matches!(c, '{' | '}' | '*' | '?' | '[' | ']' | '\\') || c.is_control())
    {
        return Err(syn::Error::new(
            name.span(),
            format!(
                "`name = {text:?}` contains {bad:?}: a function name may not contain `{{`, `}}`, `*`, `?`, `[`, `]`, `\\` or control characters, because it becomes part of Redis key names"
            ),
        ));
    }
    Ok(())
}

/// Hashes the function's tokens (signature and body, not its attributes), so
/// any edit to the code changes the fingerprint and so the cache identity.
fn fingerprint(item: &ItemFn, version: Option<&LitStr>) -> u64 {
    fn walk(tokens: TokenStream2, out: &mut Vec<u8>) {
        for tree in tokens {
            match tree {
                TokenTree::Ident(i) => {
                    out.push(b'i');
                    out.extend(i.to_string().bytes());
                }
                TokenTree::Punct(p) => {
                    out.push(b'p');
                    out.extend(p.as_char().to_string().bytes());
                    out.push(u8::from(p.spacing() == Spacing::Joint));
                }
                TokenTree::Literal(l) => {
                    out.push(b'l');
                    out.extend(l.to_string().bytes());
                }
                TokenTree::Group(g) => {
                    out.push(match g.delimiter() {
                        Delimiter::Parenthesis => b'(',
                        Delimiter::Brace => b'{',
                        Delimiter::Bracket => b'[',
                        Delimiter::None => b'_',
                    });
                    walk(g.stream(), out);
                    out.push(b'e');
                }
            }
            out.push(0);
        }
    }
    let mut bytes = Vec::new();
    walk(item.sig.to_token_stream(), &mut bytes);
    walk(item.block.to_token_stream(), &mut bytes);
    if let Some(version) = version {
        bytes.extend(b"version");
        bytes.extend(version.value().bytes());
    }
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// Whether the written return type is a `Result` (by its last path segment),
/// in which case only `Ok` values are cached.
fn returns_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Result" && !s.arguments.is_empty()),
        Type::Paren(p) => returns_result(&p.elem),
        _ => false,
    }
}

/// Types whose values say everything about them: a key argument or a
/// return type made only of these needs no type name in the key. Anything
/// else (a user's type, an impl's generic parameter, `Self`) adds its
/// `type_name`, so `Repo<u32>` and `Repo<i64>` never share an entry.
const PLAIN_TYPES: &[&str] = &[
    "bool", "char", "str", "String", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16",
    "i32", "i64", "i128", "isize", "f32", "f64", "Vec", "Option", "Box", "Result", "Arc", "Rc",
    "Cow", "BTreeMap", "BTreeSet",
];

fn is_plain(ty: &Type, generics: &[syn::Ident]) -> bool {
    match ty {
        Type::Reference(r) => is_plain(&r.elem, generics),
        Type::Slice(s) => is_plain(&s.elem, generics),
        Type::Array(a) => is_plain(&a.elem, generics),
        Type::Paren(p) => is_plain(&p.elem, generics),
        Type::Group(g) => is_plain(&g.elem, generics),
        Type::Tuple(t) => t.elems.iter().all(|t| is_plain(t, generics)),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            let named = PLAIN_TYPES.iter().any(|n| last.ident == n)
                || (p.path.segments.len() == 1 && generics.contains(&last.ident));
            named
                && match &last.arguments {
                    syn::PathArguments::None => true,
                    syn::PathArguments::AngleBracketed(args) => args.args.iter().all(|a| match a {
                        syn::GenericArgument::Type(t) => is_plain(t, generics),
                        syn::GenericArgument::Lifetime(_) => true,
                        _ => false,
                    }),
                    syn::PathArguments::Parenthesized(_) => false,
                }
        }
        _ => false,
    }
}

/// A hashed map or set argument: its order differs in every process, so its
/// encoding (and the key) would too.
fn hashed_collection(ty: &Type) -> Option<String> {
    struct Finder(Option<String>);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
            let name = segment.ident.to_string();
            if self.0.is_none() && (name.ends_with("HashMap") || name.ends_with("HashSet")) {
                self.0 = Some(name);
            }
            syn::visit::visit_path_segment(self, segment);
        }
    }
    let mut finder = Finder(None);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}

/// Whether the function names `Self` (in its signature, its body or a macro
/// call in it), outside items nested in its body, where `Self` means
/// something else.
fn mentions_self(item: &ItemFn) -> bool {
    fn tokens_mention_self(tokens: TokenStream2) -> bool {
        tokens.into_iter().any(|tree| match tree {
            TokenTree::Ident(i) => i == "Self",
            TokenTree::Group(g) => tokens_mention_self(g.stream()),
            _ => false,
        })
    }
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_ident(&mut self, ident: &'ast syn::Ident) {
            self.0 |= ident == "Self";
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            syn::visit::visit_macro(self, mac);
            self.0 |= tokens_mention_self(mac.tokens.clone());
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_signature(&mut finder, &item.sig);
    syn::visit::Visit::visit_block(&mut finder, &item.block);
    finder.0
}

fn expand(options: Options, item: ItemFn) -> syn::Result<TokenStream2> {
    let Some(cache) = options.cache else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[cached] needs the cache to use: `#[cached(cache = MY_CACHE)]`",
        ));
    };
    let fingerprint = fingerprint(&item, options.version.as_ref());
    let has_self = item.sig.receiver().is_some() || mentions_self(&item);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let fn_name = match options.name {
        Some(n) => n.value(),
        None => sig.ident.to_string(),
    };

    let ret: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Type::Reference(r) = &ret {
        return Err(syn::Error::new(
            r.span(),
            "#[cached] cannot store a borrowed return value: return an owned type instead (`String` for `&str`, `Vec<T>` for `&[T]`)",
        ));
    }
    if let Type::ImplTrait(t) = &ret {
        return Err(syn::Error::new(
            t.span(),
            "#[cached] cannot store an `impl Trait` return value: name a concrete type that implements serde's Serialize and Deserialize",
        ));
    }
    let mut generics: Vec<syn::Ident> = sig
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.clone()),
            _ => None,
        })
        .collect();
    if has_self {
        // `Self` is in the key already; its name needs no second copy.
        generics.push(format_ident!("Self"));
    }

    // The key, fed one part at a time: every argument not skipped, then the
    // function's generic parameters, then the names of the types that
    // values alone do not pin down (SPEC §2).
    let mut key_parts = Vec::new();
    let mut type_parts = Vec::new();
    let mut seen_skips = Vec::new();
    for input in &sig.inputs {
        let (ident, ty) = match input {
            FnArg::Receiver(_) => (format_ident!("self"), None),
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(p) => (p.ident.clone(), Some(&*t.ty)),
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "#[cached] needs a plain name for each argument so it can hash it; bind the pattern inside the body instead",
                    ));
                }
            },
        };
        if options.skip.contains(&ident) {
            seen_skips.push(ident);
            continue;
        }
        let span = ty.map_or(ident.span(), Spanned::span);
        if let Some(collection) = ty.and_then(hashed_collection) {
            let ordered = if collection.ends_with("Map") {
                "BTreeMap"
            } else {
                "BTreeSet"
            };
            return Err(syn::Error::new(
                span,
                format!(
                    "`{ident}` is a `{collection}`, whose order differs in every process, so its key would too and the cache would never hit across processes: take a `{ordered}` (or a sorted `Vec`), or leave it out of the key with `skip({ident})`"
                ),
            ));
        }
        key_parts.push(quote_spanned! {span=>
            ::redis_func_cache::__private::key_argument(&mut __rfc_hasher, &#ident);
        });
        if let Some(ty) = ty
            && !is_plain(ty, &generics)
        {
            type_parts.push(quote! {
                ::redis_func_cache::__private::key_argument(
                    &mut __rfc_hasher,
                    ::core::any::type_name_of_val(&#ident),
                );
            });
        }
    }
    for skip in &options.skip {
        if !seen_skips.contains(skip) {
            return Err(syn::Error::new(
                skip.span(),
                format!("`skip({skip})`: the function has no argument named `{skip}`"),
            ));
        }
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Type(t) => {
                let ident = &t.ident;
                key_parts.push(quote! {
                    ::redis_func_cache::__private::key_argument(
                        &mut __rfc_hasher,
                        ::core::any::type_name::<#ident>(),
                    );
                });
            }
            GenericParam::Const(c) => {
                let ident = &c.ident;
                key_parts.push(quote! {
                    ::redis_func_cache::__private::key_argument(&mut __rfc_hasher, &#ident);
                });
            }
            GenericParam::Lifetime(_) => {}
        }
    }
    if has_self {
        type_parts.push(quote! {
            ::redis_func_cache::__private::key_argument(
                &mut __rfc_hasher,
                ::core::any::type_name::<Self>(),
            );
        });
    }
    if !is_plain(&ret, &generics) {
        type_parts.push(quote! {
            ::redis_func_cache::__private::key_argument(
                &mut __rfc_hasher,
                ::core::any::type_name::<#ret>(),
            );
        });
    }

    let is_result = returns_result(&ret);
    let deps = &options.depends_on;
    let func_type;
    let func_init;
    if deps.is_empty() {
        func_type = quote!(::redis_func_cache::FuncId);
        func_init =
            quote!(::redis_func_cache::FuncId::new(::core::module_path!(), #fn_name, #fingerprint));
    } else {
        func_type = quote!(::std::sync::LazyLock<::redis_func_cache::FuncId>);
        func_init = quote! {
            ::std::sync::LazyLock::new(|| {
                ::redis_func_cache::FuncId::new(
                    ::core::module_path!(),
                    #fn_name,
                    ::redis_func_cache::__private::fingerprint_with_values(
                        #fingerprint,
                        &( #(&#deps,)* ),
                    ),
                )
            })
        };
    }
    let (outer_static, inner_static, func_ref) = match &options.id {
        Some(id) => (
            quote! {
                /// The identity `#[cached]` gave this function: pass it to
                /// the cache to count or clear its entries.
                #vis static #id: #func_type = #func_init;
            },
            quote!(),
            quote!(&#id),
        ),
        None => (
            quote!(),
            quote! { static __RFC_FUNC: #func_type = #func_init; },
            quote!(&__RFC_FUNC),
        ),
    };
    let key = quote! {
        let __rfc_func: &'static ::redis_func_cache::FuncId = #func_ref;
        let mut __rfc_hasher = __rfc_func.hasher();
        #(#key_parts)*
        #(#type_parts)*
        let __rfc_key = __rfc_hasher.finish();
    };
    let lift = quote! {
        |e| {
            #[allow(unused_imports)]
            use ::redis_func_cache::__private::{LiftFailOpen as _, LiftViaFrom as _};
            (&::redis_func_cache::__private::ErrorProbe::<
                <#ret as ::redis_func_cache::__private::CachedResult>::Err,
            >::NEW)
                .lift(e)
        }
    };
    let lease = match &options.lease_ms {
        Some(ms) => quote! {
            ::core::option::Option::Some(::core::time::Duration::from_millis(#ms))
        },
        None => quote! { ::core::option::Option::None },
    };
    let body = if sig.asyncness.is_some() {
        let call = if is_result {
            quote_spanned! {ret.span()=>
                ::redis_func_cache::__private::call_result_async::<_, _, #ret>(
                    &(#cache), __rfc_func, __rfc_key, #lease, __rfc_body, #lift,
                ).await
            }
        } else {
            quote_spanned! {ret.span()=>
                ::redis_func_cache::__private::call_plain_async::<_, _, #ret>(
                    &(#cache), __rfc_func, __rfc_key, #lease, __rfc_body,
                ).await
            }
        };
        // Not an `async fn`: a function returning the call's future, made
        // when it is called, so the call keeps the mode in force there
        // (core's `mode` docs) when it is awaited or spawned later.
        quote! {{
            ::redis_func_cache::__private::carry(async move {
                #inner_static
                #key
                let __rfc_body = ::redis_func_cache::__private::typed_future::<#ret, _>(async move #block);
                #call
            })
        }}
    } else {
        let call = if is_result {
            quote_spanned! {ret.span()=>
                ::redis_func_cache::__private::call_result::<_, _, #ret>(
                    &(#cache), __rfc_func, __rfc_key, #lease, __rfc_body, #lift,
                )
            }
        } else {
            quote_spanned! {ret.span()=>
                ::redis_func_cache::__private::call_plain::<_, _, #ret>(
                    &(#cache), __rfc_func, __rfc_key, #lease, __rfc_body,
                )
            }
        };
        quote! {{
            #inner_static
            #key
            #[allow(unused_mut)]
            let mut __rfc_body = move || -> #ret #block;
            #call
        }}
    };
    let key_fn = match &options.key {
        None => quote!(),
        Some(_) if sig.receiver().is_some() => {
            return Err(syn::Error::new(
                sig.ident.span(),
                "`key = …` declares a function of the same arguments, which cannot take `self`: use `FuncCache::entry` with the method's arguments instead",
            ));
        }
        Some(key_name) => {
            let generics = &sig.generics;
            let where_clause = &sig.generics.where_clause;
            let inputs = &sig.inputs;
            let doc = format!(
                "The [`CallKey`](::redis_func_cache::CallKey) of a call of [`{}`] with these arguments, for `FuncCache::entry_of`: read, store or remove its entry without running it.",
                sig.ident
            );
            let own_static = if options.id.is_some() {
                quote!()
            } else {
                inner_static.clone()
            };
            quote! {
                #[doc = #doc]
                #[allow(unused_variables, clippy::needless_pass_by_value)]
                #vis fn #key_name #generics (#inputs) -> ::redis_func_cache::CallKey #where_clause {
                    #own_static
                    #key
                    ::redis_func_cache::CallKey::new(__rfc_func, __rfc_key)
                }
            }
        }
    };
    let mut sig = sig;
    if sig.asyncness.take().is_some() {
        sig.output = syn::parse_quote! {
            -> impl ::core::future::Future<Output = #ret>
        };
    }
    Ok(quote! {
        #outer_static
        #key_fn
        #(#attrs)*
        #vis #sig #body
    })
}
