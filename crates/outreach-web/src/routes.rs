//! The route table: every route is registered with the access it needs, the
//! guard enforces it, and the table can be listed (the authorisation test
//! compares it against its own expectations).

use crate::session::CurrentUser;
use crate::{AppError, AppState};
use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use outreach_core::access::{Action, can};

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not (health, metrics, static assets, login).
    Public,
    /// The JSON API: no session; the handler checks the bearer token of a
    /// job center.
    Token,
    /// A logged-in user allowed to take this action.
    Action(Action),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteInfo>,
}

async fn guard(State(access): State<Access>, request: Request, next: Next) -> Response {
    if let Access::Action(action) = access {
        let Some(user) = request.extensions().get::<CurrentUser>() else {
            return AppError::LoginRequired.into_response();
        };
        if !can(&user.actor, action) {
            return AppError::Forbidden.into_response();
        }
    }
    next.run(request).await
}

impl Routes {
    pub fn new() -> Routes {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        access: Access,
        route: MethodRouter<AppState>,
    ) -> Routes {
        self.table.push(RouteInfo {
            method,
            path,
            access,
        });
        self.router = self
            .router
            .route(path, route.route_layer(from_fn_with_state(access, guard)));
        self
    }

    pub fn get<H, T>(self, path: &'static str, access: Access, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add("GET", path, access, get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, access: Access, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add("POST", path, access, post(handler))
    }

    /// A POST route whose body may be larger than the default limit (uploads).
    pub fn post_with_limit<H, T>(
        self,
        path: &'static str,
        access: Access,
        handler: H,
        limit: axum::extract::DefaultBodyLimit,
    ) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add("POST", path, access, post(handler).layer(limit))
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    pub fn table(&self) -> Vec<RouteInfo> {
        self.table.clone()
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
