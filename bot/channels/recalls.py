"""Each channel's provider knowledge of deleting at erasure, by channel name, for the pipeline."""

from __future__ import annotations

from bot.channels import telegram, twilio_sms, twilio_whatsapp
from bot.channels.base import Recall

# A channel without an entry keeps nothing the helpline can delete (the simulator).
RECALLS: dict[str, Recall] = {
    telegram.NAME: telegram.RECALL,
    twilio_sms.NAME: twilio_sms.RECALL,
    twilio_whatsapp.NAME: twilio_whatsapp.RECALL,
}
