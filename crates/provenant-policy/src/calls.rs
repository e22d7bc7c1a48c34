//! Every function a policy calls must exist: a builtin this build of the
//! engine has, `print`, or a function some module of the set defines.
//!
//! regorus resolves calls only when it evaluates them, so a call to a
//! builtin it lacks (a group trimmed from this build, such as `base64.*`,
//! or a misspelling) would load and then fail every decision. OPA refuses
//! such a module when it compiles it, and so do we: the check walks each
//! module's syntax tree (regorus's parser, pinned with the engine) and
//! names the file, line and column of each unknown call.

use std::collections::BTreeSet;

use regorus::unstable::{Expr, Literal, Parser, Query, Rule, RuleHead, Source};

use crate::error::PolicyError;
use crate::source::ModuleSource;

/// The unknown calls of `modules` (taken as one set: a call may name a
/// function another module defines), each an error at its place.
pub(crate) fn unknown_calls(modules: &[&ModuleSource]) -> Vec<PolicyError> {
    let mut parsed = Vec::with_capacity(modules.len());
    for m in modules {
        // Modules that do not parse are reported by the engine itself.
        let Ok(source) = Source::from_contents(m.path.clone(), m.text.clone()) else {
            continue;
        };
        let Ok(mut parser) = Parser::new(&source) else {
            continue;
        };
        if let Ok(module) = parser.parse() {
            parsed.push((m.path.clone(), module));
        }
    }
    let mut defined = BTreeSet::new();
    for (_, module) in &parsed {
        for rule in &module.policy {
            let name = match rule.as_ref() {
                Rule::Spec {
                    head: RuleHead::Func { refr, .. },
                    ..
                } => path_of(refr),
                Rule::Default { refr, args, .. } if !args.is_empty() => path_of(refr),
                _ => None,
            };
            if let Some(name) = name
                && let Some(last) = name.rsplit('.').next()
            {
                defined.insert(last.to_owned());
            }
        }
    }
    let mut errors = Vec::new();
    for (path, module) in &parsed {
        let mut calls = Vec::new();
        for rule in &module.policy {
            rule_calls(rule, &mut calls);
        }
        for (name, line, column) in calls {
            if is_known(&name, &defined) {
                continue;
            }
            errors.push(PolicyError::Compile {
                path: path.clone(),
                line,
                column,
                message: format!(
                    "unknown function {name}: not a builtin of this engine, and no module of the set defines it"
                ),
            });
        }
    }
    errors
}

fn is_known(name: &str, defined: &BTreeSet<String>) -> bool {
    if name == "print" || regorus::unstable::BUILTINS.contains_key(name) {
        return true;
    }
    // A function of the set, called by its bare name, through an import
    // alias or by its full `data.` path: its last segment is defined.
    name.rsplit('.')
        .next()
        .is_some_and(|last| defined.contains(last))
        && (name.starts_with("data.") || !is_builtin_namespace(name))
}

/// Whether `name` is in a namespace of builtins (`base64.encode`): such a
/// call is a builtin's, never a set function reached through an alias of
/// the same name.
fn is_builtin_namespace(name: &str) -> bool {
    let Some((head, _)) = name.split_once('.') else {
        return false;
    };
    regorus::unstable::BUILTINS
        .keys()
        .any(|k| k.split_once('.').is_some_and(|(h, _)| h == head))
}

/// The dotted path a function reference names (`lib.violation`,
/// `data.lib.x.f`, `count`).
fn path_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Var { value, .. } => value.as_string().ok().map(|s| s.to_string()),
        Expr::RefDot { refr, field, .. } => {
            let head = path_of(refr)?;
            let field = field.1.as_string().ok()?;
            Some(format!("{head}.{field}"))
        }
        _ => None,
    }
}

fn rule_calls(rule: &Rule, out: &mut Vec<(String, u32, u32)>) {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { assign, .. } => {
                    if let Some(a) = assign {
                        expr_calls(&a.value, out);
                    }
                }
                RuleHead::Set { key, .. } => {
                    if let Some(k) = key {
                        expr_calls(k, out);
                    }
                }
                RuleHead::Func { args, assign, .. } => {
                    for a in args {
                        expr_calls(a, out);
                    }
                    if let Some(a) = assign {
                        expr_calls(&a.value, out);
                    }
                }
            }
            for body in bodies {
                if let Some(a) = &body.assign {
                    expr_calls(&a.value, out);
                }
                query_calls(&body.query, out);
            }
        }
        Rule::Default { value, .. } => expr_calls(value, out),
    }
}

fn query_calls(q: &Query, out: &mut Vec<(String, u32, u32)>) {
    for stmt in &q.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    expr_calls(k, out);
                }
                expr_calls(value, out);
                expr_calls(collection, out);
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => expr_calls(expr, out),
            Literal::Every { domain, query, .. } => {
                expr_calls(domain, out);
                query_calls(query, out);
            }
        }
        for w in &stmt.with_mods {
            expr_calls(&w.r#as, out);
        }
    }
}

/// The calls in `e`, walked with an explicit stack (no recursion on the
/// expression's depth).
fn expr_calls(e: &Expr, out: &mut Vec<(String, u32, u32)>) {
    let mut stack: Vec<&Expr> = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. }
            | Expr::Var { .. } => {}
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                stack.extend(items.iter().map(|i| i.as_ref()));
            }
            Expr::Object { fields, .. } => {
                for (_, k, v) in fields {
                    stack.push(k);
                    stack.push(v);
                }
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                stack.push(term);
                query_calls(query, out);
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                stack.push(key);
                stack.push(value);
                query_calls(query, out);
            }
            Expr::Call {
                span, fcn, params, ..
            } => {
                if let Some(name) = path_of(fcn) {
                    out.push((name, span.line, span.col));
                }
                stack.extend(params.iter().map(|p| p.as_ref()));
            }
            Expr::UnaryExpr { expr, .. } => stack.push(expr),
            Expr::RefDot { refr, .. } => stack.push(refr),
            Expr::RefBrack { refr, index, .. } => {
                stack.push(refr);
                stack.push(index);
            }
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                stack.push(lhs);
                stack.push(rhs);
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    stack.push(k);
                }
                stack.push(value);
                stack.push(collection);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(modules: &[(&str, &str)]) -> Vec<String> {
        let sources: Vec<ModuleSource> = modules
            .iter()
            .map(|(p, t)| ModuleSource::new(*p, *t))
            .collect();
        let refs: Vec<&ModuleSource> = sources.iter().collect();
        unknown_calls(&refs)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn builtins_set_functions_and_aliases_are_known() {
        let lib = "package lib.util\n\nviolation(id, msg) := {\"id\": id, \"msg\": msg}\n";
        let policy = "package provenant.a\n\nimport data.lib.util as u\n\n\
            deny contains v if {\n  count(input.signatures) == 0\n  v := u.violation(\"x\", sprintf(\"%s\", [\"y\"]))\n}\n\
            warn contains m if {\n  m := data.lib.util.violation(\"z\", lower(\"Q\"))\n  print(m)\n}\n";
        assert_eq!(
            check(&[("lib.rego", lib), ("a.rego", policy)]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_unknown_or_trimmed_builtin_is_named_with_its_place() {
        let policy = "package provenant.a\n\ndeny contains m if {\n  m := base64.encode(\"a\")\n}\n\
            warn contains m if {\n  xs := [x | x := nope(1)]\n  m := xs[0]\n}\n";
        let errors = check(&[("a.rego", policy)]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("a.rego:4:"), "{errors:?}");
        assert!(
            errors[0].contains("unknown function base64.encode"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("a.rego:7:"), "{errors:?}");
        assert!(errors[1].contains("unknown function nope"), "{errors:?}");
    }
}
