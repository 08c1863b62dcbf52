//! Client-only entry point for `trunk serve`: renders the UI in the browser with no
//! server-side rendering; server functions are proxied to a running Stayput server.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
