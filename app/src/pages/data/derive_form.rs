//! `/data`'s form for a derived column: arithmetic of two columns or a number, or a
//! part of a date.

use leptos::prelude::*;

use super::forms::{apply, is_numeric, is_temporal, ColumnPick};
use super::DataView;
use crate::contract::data::{ArithOp, DatePart, Derived, Operand, Transform};

#[component]
pub fn DeriveForm(view_state: DataView) -> AnyView {
    let name = RwSignal::new(String::new());
    let left = RwSignal::new(String::new());
    let op = RwSignal::new(ArithOp::Mul);
    let right = RwSignal::new(String::from("1"));
    let date = RwSignal::new(String::new());
    let part = RwSignal::new(DatePart::Year);
    let ops = [
        (ArithOp::Add, "+"),
        (ArithOp::Sub, "−"),
        (ArithOp::Mul, "×"),
        (ArithOp::Div, "÷"),
    ];
    let parts = [
        (DatePart::Year, "year"),
        (DatePart::Month, "month"),
        (DatePart::Day, "day"),
        (DatePart::Weekday, "weekday"),
        (DatePart::Hour, "hour"),
    ];
    let derive = move |_| {
        let text = right.get_untracked();
        let right = match text.trim().parse::<f64>() {
            Ok(n) => Operand::Number(n),
            Err(_) => Operand::Column(text.trim().to_owned()),
        };
        apply(
            view_state,
            Transform::Derive {
                name: name.get_untracked(),
                expr: Derived::Arith {
                    left: Operand::Column(left.get_untracked()),
                    op: op.get_untracked(),
                    right,
                },
            },
        );
    };
    let date_part = move |_| {
        let p = part.get_untracked();
        let label = parts.iter().find(|(q, _)| *q == p).map_or("part", |(_, l)| *l);
        apply(
            view_state,
            Transform::Derive {
                name: format!("{}_{label}", date.get_untracked()),
                expr: Derived::Part {
                    column: date.get_untracked(),
                    part: p,
                },
            },
        );
    };
    view! {
        <div class="controls">
            <span>"New column "</span>
            <input data-testid="derive-name" placeholder="name" on:input=move |ev| name.set(event_target_value(&ev))/>
            " = "
            <ColumnPick view_state=view_state value=left keep=is_numeric testid="derive-left"/>
            <select
                data-testid="derive-op"
                on:change=move |ev| {
                    let i: usize = event_target_value(&ev).parse().unwrap_or(2);
                    op.set(ops.get(i).map_or(ArithOp::Mul, |o| o.0));
                }
            >
                {ops.iter().enumerate().map(|(i, (_, s))| view! { <option value=i.to_string() selected=i == 2>{*s}</option> }).collect_view()}
            </select>
            <input data-testid="derive-right" placeholder="number or column" prop:value=move || right.get() on:input=move |ev| right.set(event_target_value(&ev))/>
            <button data-testid="apply-derive" class="secondary" on:click=derive>"Add"</button>
            <span>" Date part "</span>
            <ColumnPick view_state=view_state value=date keep=is_temporal testid="part-column"/>
            <select
                data-testid="part"
                on:change=move |ev| {
                    let i: usize = event_target_value(&ev).parse().unwrap_or(0);
                    part.set(parts.get(i).map_or(DatePart::Year, |p| p.0));
                }
            >
                {parts.iter().enumerate().map(|(i, (_, l))| view! { <option value=i.to_string()>{*l}</option> }).collect_view()}
            </select>
            <button data-testid="apply-part" class="secondary" on:click=date_part>"Add"</button>
        </div>
    }
    .into_any()
}
