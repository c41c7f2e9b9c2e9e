"""Signing in and out, and the home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from gitproductivity.core.errors import Unauthorized
from gitproductivity.core.http import limits, unit_of_work
from gitproductivity.orgs import service as orgs_service
from gitproductivity.web.helpers import PAGES, CurrentViewer, redirect, render
from gitproductivity.web.security import csrf_token, guard

router = APIRouter(include_in_schema=False, dependencies=[Depends(guard)])


def _safe_next(target: str | None) -> str:
    """Only paths on this site: `//evil.example` and `https://…` are not followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if isinstance(request.session.get("user_id"), str):
        return redirect(_safe_next(next))
    return render(request, "login.html", next=_safe_next(next), email="", error=None)


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    # Failed sign-ins are limited per client address (a password guesser is slowed down to a few a minute).
    address = f"addr:{request.client.host if request.client else 'unknown'}"
    wait = limits(request).sign_in.retry_after(address)
    if wait is not None:
        return render(
            request,
            "login.html",
            status_code=429,
            headers={"Retry-After": str(wait)},
            next=_safe_next(next),
            email=email,
            error=f"Too many failed sign-ins from your address. Try again in {wait} seconds.",
        )
    try:
        with unit_of_work() as session:
            user = orgs_service.authenticate_user(session, email=email, password=password)
            user_id = user.id
    except Unauthorized:
        limits(request).sign_in.take(address)
        return render(
            request,
            "login.html",
            status_code=401,
            next=_safe_next(next),
            email=email,
            error="That email and password do not match an account. Check them and try again.",
        )
    request.session.clear()  # a fresh session (and CSRF token) on sign-in: no fixation
    request.session["user_id"] = user_id
    csrf_token(request.session)
    return redirect(_safe_next(next))


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return redirect("/login")


@router.get("/")
def home(request: Request, viewer: CurrentViewer) -> Response:
    return redirect("/dashboard" if PAGES.get("dashboard") else "/developers")
