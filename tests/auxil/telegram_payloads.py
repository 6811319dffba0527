"""Realistic Telegram Update JSON, as the Bot API delivers it by webhook or getUpdates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Shaped like real tokens: the bot's id, a colon, 35 characters of secret.
BOT_ID = 7012345678
TOKEN = f"{BOT_ID}:AAH4kXc2vJq9mZr8Lw3YtBn6Pd1Qe5Sf0Ug"
BOT_USERNAME = "ndihma_test_bot"
CHAT_ID = 5550001112  # a private chat's id is the person's user id
GROUP_ID = -4567890123  # basic groups have negative ids
SUPERGROUP_ID = -1001234567890  # supergroups and channels: -100 followed by the id
DATE = datetime(2025, 3, 8, 21, 30, 5, tzinfo=UTC)

Json = dict[str, Any]


def _ts(when: datetime | None) -> int:
    """Unix time as the Bot API writes it."""
    return int((when or DATE).timestamp())


def user(user_id: int = CHAT_ID, first_name: str = "Drita", language_code: str = "sq") -> Json:
    """A person's User object."""
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "last_name": "Krasniqi",
        "language_code": language_code,
    }


def bot_user() -> Json:
    """The bot's own User object."""
    return {"id": BOT_ID, "is_bot": True, "first_name": "Ndihma", "username": BOT_USERNAME}


def private_chat(chat_id: int = CHAT_ID) -> Json:
    """A private Chat object."""
    return {"id": chat_id, "first_name": "Drita", "last_name": "Krasniqi", "type": "private"}


def group_chat(chat_id: int = GROUP_ID, kind: str = "group") -> Json:
    """A group, supergroup or channel Chat object."""
    chat: Json = {"id": chat_id, "title": "Familja", "type": kind}
    if kind == "group":
        chat["all_members_are_administrators"] = True
    return chat


def message(
    message_id: int = 41,
    chat_id: int = CHAT_ID,
    date: datetime | None = None,
    **content: Any,
) -> Json:
    """A Message in a private chat with the given content fields (text, photo, ...)."""
    return {
        "message_id": message_id,
        "from": user(chat_id) if chat_id > 0 else user(),
        "chat": private_chat(chat_id) if chat_id > 0 else group_chat(chat_id),
        "date": _ts(date),
        **content,
    }


def update(update_id: int, **fields: Any) -> Json:
    """An Update wrapping one field (message, callback_query, edited_message...)."""
    return {"update_id": update_id, **fields}


def text(update_id: int, body: str, *, message_id: int = 41, chat_id: int = CHAT_ID) -> Json:
    """A text message in a private chat."""
    return update(update_id, message=message(message_id, chat_id, text=body))


def start(
    update_id: int, *, payload: str = "", message_id: int = 1, chat_id: int = CHAT_ID
) -> Json:
    """/start, as the Start button sends it (with a deep-link payload when given)."""
    body = f"/start {payload}".strip()
    return update(
        update_id,
        message=message(
            message_id,
            chat_id,
            text=body,
            entities=[{"offset": 0, "length": 6, "type": "bot_command"}],
        ),
    )


def callback(
    update_id: int,
    data: str,
    *,
    query_id: str = "4687031337801234567",
    message_id: int = 42,
    chat_id: int = CHAT_ID,
) -> Json:
    """A press of an inline button under one of the bot's messages."""
    return update(
        update_id,
        callback_query={
            "id": query_id,
            "from": user(chat_id),
            "message": {
                "message_id": message_id,
                "from": bot_user(),
                "chat": private_chat(chat_id),
                "date": _ts(None),
                "text": "A jeni në rrezik tani?\n1. Po\n2. Jo",
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Po", "callback_data": "yes"}],
                        [{"text": "Jo", "callback_data": "no"}],
                    ]
                },
            },
            "chat_instance": "-3458711290877345678",
            "data": data,
        },
    )


def _file(unique: str, size: int, **extra: Any) -> Json:
    """The common file fields."""
    return {
        "file_id": f"AgACAgIAAxkBAAIB{unique}AAHZ8k3xYWl6b3JzLWlk",
        "file_unique_id": f"AQAD{unique}",
        "file_size": size,
        **extra,
    }


def photo(update_id: int, *, caption: str | None = None, message_id: int = 43) -> Json:
    """A photo: Telegram sends several sizes of it."""
    content: Json = {
        "photo": [
            _file("p1", 1402, width=90, height=67),
            _file("p2", 18344, width=320, height=240),
            _file("p3", 80211, width=1280, height=960),
        ]
    }
    if caption is not None:
        content["caption"] = caption
    return update(update_id, message=message(message_id, **content))


def voice(update_id: int, *, message_id: int = 44) -> Json:
    """A voice note."""
    return update(
        update_id,
        message=message(message_id, voice=_file("v1", 12001, duration=7, mime_type="audio/ogg")),
    )


def sticker(update_id: int, *, message_id: int = 45) -> Json:
    """A sticker."""
    return update(
        update_id,
        message=message(
            message_id,
            sticker=_file(
                "s1",
                23090,
                width=512,
                height=512,
                emoji="😢",
                set_name="SadCats",
                is_animated=False,
                is_video=False,
                type="regular",
            ),
        ),
    )


def document(update_id: int, *, message_id: int = 46) -> Json:
    """A document (a PDF of a protection order, say)."""
    return update(
        update_id,
        message=message(
            message_id,
            document=_file("d1", 201455, file_name="urdhri.pdf", mime_type="application/pdf"),
        ),
    )


def video(update_id: int, *, message_id: int = 47) -> Json:
    """A video."""
    return update(
        update_id,
        message=message(
            message_id,
            video=_file("m1", 900123, width=640, height=360, duration=12, mime_type="video/mp4"),
        ),
    )


def audio(update_id: int, *, message_id: int = 48) -> Json:
    """An audio file."""
    return update(
        update_id,
        message=message(
            message_id,
            audio=_file("a1", 300400, duration=40, mime_type="audio/mpeg", title="Regjistrim"),
        ),
    )


def location(
    update_id: int,
    latitude: float = 41.327953,
    longitude: float = 19.819025,
    *,
    message_id: int = 49,
) -> Json:
    """A shared location (Tirana's centre by default)."""
    return update(
        update_id,
        message=message(message_id, location={"latitude": latitude, "longitude": longitude}),
    )


def group_text(
    update_id: int, body: str = "/start", *, chat_id: int = GROUP_ID, kind: str = "group"
) -> Json:
    """A message in a group or supergroup the bot was added to."""
    msg = message(50, chat_id, text=body)
    msg["chat"] = group_chat(chat_id, kind)
    return update(update_id, message=msg)


def channel_post(update_id: int, body: str = "Lajme", *, chat_id: int = SUPERGROUP_ID) -> Json:
    """A post in a channel the bot administers."""
    return update(
        update_id,
        channel_post={
            "message_id": 51,
            "sender_chat": group_chat(chat_id, "channel"),
            "chat": group_chat(chat_id, "channel"),
            "date": _ts(None),
            "text": body,
        },
    )


def edited_text(update_id: int, body: str, *, message_id: int = 41) -> Json:
    """An edit of an earlier text message."""
    msg = message(message_id, text=body)
    msg["edit_date"] = _ts(None) + 60
    return update(update_id, edited_message=msg)


def pinned(update_id: int, *, message_id: int = 52) -> Json:
    """A service message: the person pinned one of the bot's messages."""
    return update(update_id, message=message(message_id, pinned_message=message(42, text="x")))
