"""Signing in and out, the account page (changing the password), and the home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from gitproductivity.core.errors import DomainError, Unauthorized, ValidationFailed
from gitproductivity.core.http import limits, unit_of_work
from gitproductivity.orgs import service as orgs_service
from gitproductivity.web.helpers import PAGES, CurrentViewer, field_errors, flash, redirect, render, signed_in
from gitproductivity.web.security import SESSION_ID, csrf_token, guard

router = APIRouter(include_in_schema=False, dependencies=[Depends(guard)])


def _safe_next(target: str | None) -> str:
    """Only paths on this site: `//evil.example` and `https://…` are not followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _address(request: Request) -> str:
    return f"addr:{request.client.host if request.client else 'unknown'}"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if signed_in(request):
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
    address = _address(request)
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
            previous = request.session.get(SESSION_ID)
            if isinstance(previous, str):  # signing in again replaces this browser's session, not adds one
                orgs_service.end_session(session, token=previous)
            token = orgs_service.start_session(session, user_id=user.id)
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
    request.session[SESSION_ID] = token
    csrf_token(request.session)
    return redirect(_safe_next(next))


@router.post("/logout")
def logout(request: Request) -> Response:
    """Ends the session on the server: a copy of the cookie taken before is worth nothing afterwards."""
    token = request.session.get(SESSION_ID)
    if isinstance(token, str):
        with unit_of_work() as session:
            orgs_service.end_session(session, token=token)
    request.session.clear()
    return redirect("/login")


@router.get("/account")
def account(request: Request, viewer: CurrentViewer) -> Response:
    return render(request, "account.html", viewer, errors={})


@router.post("/account/password")
def change_password(
    request: Request,
    viewer: CurrentViewer,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    """Every session of the user ends (a stolen cookie included); this browser gets a new one.

    Wrong current passwords count as failed sign-ins (same limit per address): a stolen session cannot be used
    to guess the password at leisure."""
    address = _address(request)
    wait = limits(request).sign_in.retry_after(address)
    if wait is not None:
        message = f"Too many wrong passwords from your address. Try again in {wait} seconds."
        return render(
            request, "account.html", viewer, status_code=429, headers={"Retry-After": str(wait)}, errors={"": message}
        )
    try:
        if new_password != confirm_password:
            raise ValidationFailed(
                "confirm_password: the two new passwords differ",
                details=[{"field": "confirm_password", "message": "Type the same new password twice."}],
            )
        with unit_of_work() as session:
            token = orgs_service.change_password(
                session, user_id=viewer.user_id, current_password=current_password, new_password=new_password
            )
    except DomainError as exc:
        errors = field_errors(exc)
        if "current_password" in errors:
            limits(request).sign_in.take(address)
        return render(request, "account.html", viewer, status_code=exc.status_code, errors=errors)
    request.session.clear()
    request.session[SESSION_ID] = token
    csrf_token(request.session)
    flash(request, "Your password was changed. Every other session was signed out.")
    return redirect("/account")


@router.get("/")
def home(request: Request, viewer: CurrentViewer) -> Response:
    return redirect("/dashboard" if PAGES.get("dashboard") else "/developers")
