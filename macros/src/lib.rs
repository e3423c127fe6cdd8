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
}

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
            self.name = Some(meta.value()?.parse()?);
        } else {
            return Err(meta.error(
                "unknown option of #[cached]: expected `cache = <expr>`, `skip(<args>)` or `name = \"...\"`",
            ));
        }
        Ok(())
    }
}

/// Hashes the function's tokens (signature and body, not its attributes), so
/// any edit to the code changes the fingerprint and so the cache identity.
fn fingerprint(item: &ItemFn) -> u64 {
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

fn expand(options: Options, item: ItemFn) -> syn::Result<TokenStream2> {
    let Some(cache) = options.cache else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[cached] needs the cache to use: `#[cached(cache = MY_CACHE)]`",
        ));
    };
    let fingerprint = fingerprint(&item);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let fn_name = options
        .name
        .map(|n| n.value())
        .unwrap_or_else(|| sig.ident.to_string());

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

    // The key: every argument not skipped, plus the generic parameters, so
    // f::<u32>(1) and f::<u64>(1) do not share an entry.
    let mut key_parts = Vec::new();
    let mut checks = Vec::new();
    let mut seen_skips = Vec::new();
    for input in &sig.inputs {
        let (ident, span) = match input {
            FnArg::Receiver(r) => (format_ident!("self"), r.span()),
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(p) => (p.ident.clone(), t.ty.span()),
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
        checks.push(quote_spanned! {span=>
            ::redis_func_cache::__private::assert_key_argument(&#ident);
        });
        key_parts.push(quote!(&#ident));
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
                key_parts.push(quote!(::core::any::type_name::<#ident>()));
            }
            GenericParam::Const(c) => {
                let ident = &c.ident;
                key_parts.push(quote!(#ident));
            }
            GenericParam::Lifetime(_) => {}
        }
    }

    let is_result = returns_result(&ret);
    let value_check = if is_result {
        quote_spanned! {ret.span()=>
            ::redis_func_cache::__private::assert_cached_result::<#ret>();
        }
    } else {
        quote_spanned! {ret.span()=>
            ::redis_func_cache::__private::assert_cached_value::<#ret>();
        }
    };

    let func_static = quote! {
        static __RFC_FUNC: ::redis_func_cache::FuncId =
            ::redis_func_cache::FuncId::new(::core::module_path!(), #fn_name, #fingerprint);
    };
    let key = quote! {
        let __rfc_key = __RFC_FUNC.invocation_hash(&( #(#key_parts,)* ));
    };
    let body = if sig.asyncness.is_some() {
        let call = if is_result {
            quote! {
                (#cache).try_call_keyed_async(&__RFC_FUNC, __rfc_key, move || __rfc_body).await
            }
        } else {
            quote! {
                ::redis_func_cache::__private::unwrap_cache_result(
                    (#cache)
                        .try_call_keyed_async(&__RFC_FUNC, __rfc_key, move || async move {
                            ::core::result::Result::<#ret, ::redis_func_cache::Error>::Ok(__rfc_body.await)
                        })
                        .await,
                )
            }
        };
        quote! {{
            #func_static
            #(#checks)*
            #value_check
            #key
            let __rfc_body = ::redis_func_cache::__private::typed_future::<#ret, _>(async move #block);
            #call
        }}
    } else {
        let call = if is_result {
            quote! { (#cache).try_call_keyed(&__RFC_FUNC, __rfc_key, __rfc_body) }
        } else {
            quote! {
                ::redis_func_cache::__private::unwrap_cache_result(
                    (#cache).try_call_keyed(&__RFC_FUNC, __rfc_key, move || {
                        ::core::result::Result::<#ret, ::redis_func_cache::Error>::Ok(__rfc_body())
                    }),
                )
            }
        };
        quote! {{
            #func_static
            #(#checks)*
            #value_check
            #key
            #[allow(unused_mut)]
            let mut __rfc_body = move || -> #ret #block;
            #call
        }}
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig #body
    })
}
