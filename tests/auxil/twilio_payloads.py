"""Builders of the form bodies Twilio posts to webhooks, and their X-Twilio-Signature."""

from __future__ import annotations

import secrets

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
# The helpline's Twilio number; a US one, so Twilio fills in the To* geography fields.
HELPLINE_NUMBER = "+12025550143"
API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-style SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def inbound_sms(
    from_: str,
    body: str,
    *,
    to: str = HELPLINE_NUMBER,
    message_sid: str | None = None,
    account_sid: str = ACCOUNT_SID,
    num_media: int = 0,
    num_segments: int = 1,
    opt_out_type: str | None = None,
    from_country: str = "AL",
) -> dict[str, str]:
    """The form fields Twilio posts for an incoming SMS, as it sends them."""
    sid = message_sid or new_sid("SM" if num_media == 0 else "MM")
    form = {
        "ToCountry": "US",
        "ToState": "DC",
        "SmsMessageSid": sid,
        "NumMedia": str(num_media),
        "ToCity": "WASHINGTON",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": from_country,
        "To": to,
        "ToZip": "20001",
        "NumSegments": str(num_segments),
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    for i in range(num_media):
        form[f"MediaContentType{i}"] = "image/jpeg"
        form[f"MediaUrl{i}"] = (
            f"https://api.twilio.com/{API_VERSION}/Accounts/{account_sid}"
            f"/Messages/{sid}/Media/{new_sid('ME')}"
        )
    if opt_out_type is not None:
        form["OptOutType"] = opt_out_type
    return form


# The helpline's WhatsApp sender (a Twilio number registered for WhatsApp).
HELPLINE_WHATSAPP = "whatsapp:+12025550144"


def inbound_whatsapp(
    from_: str,
    body: str,
    *,
    to: str = HELPLINE_WHATSAPP,
    message_sid: str | None = None,
    account_sid: str = ACCOUNT_SID,
    num_media: int = 0,
    button_payload: str | None = None,
    profile_name: str = "Drita",
) -> dict[str, str]:
    """The form fields Twilio posts for an incoming WhatsApp message (`from_`: +355…)."""
    sid = message_sid or new_sid("SM" if num_media == 0 else "MM")
    form = {
        "SmsMessageSid": sid,
        "NumMedia": str(num_media),
        "ProfileName": profile_name,
        "MessageType": "button" if button_payload else ("image" if num_media else "text"),
        "SmsSid": sid,
        "WaId": from_.lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": "whatsapp:" + from_,
        "ApiVersion": API_VERSION,
    }
    if button_payload is not None:
        form["ButtonText"] = body
        form["ButtonPayload"] = button_payload
    for i in range(num_media):
        form[f"MediaContentType{i}"] = "image/jpeg"
        form[f"MediaUrl{i}"] = (
            f"https://api.twilio.com/{API_VERSION}/Accounts/{account_sid}"
            f"/Messages/{sid}/Media/{new_sid('ME')}"
        )
    return form


def status_callback(
    message_sid: str,
    status: str,
    *,
    to: str,
    from_: str = HELPLINE_NUMBER,
    account_sid: str = ACCOUNT_SID,
    error_code: str | None = None,
) -> dict[str, str]:
    """The form fields Twilio posts to a message's StatusCallback URL."""
    form = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    if error_code is not None:
        form["ErrorCode"] = error_code
    return form


def sign(url: str, form: dict[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio computes for a POST of `form` to `url`."""
    return RequestValidator(auth_token).compute_signature(url, form)


def signed_headers(url: str, form: dict[str, str], auth_token: str = AUTH_TOKEN) -> dict[str, str]:
    """Headers of a signed webhook request, as Twilio sends them."""
    return {
        SIGNATURE_HEADER: sign(url, form, auth_token),
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
    }
