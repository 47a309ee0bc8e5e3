"""Which sender carries which outbox channel, from the settings.

Each endpoint is a setting (``SANQING_SMS_URL``, ``SANQING_WECOM_WEBHOOK_URL``,
``SANQING_DINGTALK_WEBHOOK_URL``, ``SANQING_COUNTY_REPORT_URL``). A channel
whose endpoint is not set writes its messages to files under the data directory
(``outbox/<channel>/``): the embedded default, so a drill needs no gateway.

Village group messages go to the WeCom robot (else DingTalk); cadre task lists,
call lists and escalations go to the DingTalk robot of the cadres' group (else
WeCom). Loudspeaker scripts become text files, and audio where espeak-ng is
installed. Door-visit lists and evacuation cards are printed: files.
"""

from __future__ import annotations

from sanqing.delivery.channels.base import Sender
from sanqing.delivery.channels.county import CountyReceiver
from sanqing.delivery.channels.dingtalk import DingTalkRobot
from sanqing.delivery.channels.file import FileSender
from sanqing.delivery.channels.loudspeaker import Loudspeaker
from sanqing.delivery.channels.sms_gateway import SmsGateway
from sanqing.delivery.channels.wecom import WeComRobot
from sanqing.models import Channel
from sanqing.settings import Settings, get_settings


def senders_from_settings(settings: Settings | None = None) -> dict[str, Sender]:
    """One sender per outbox channel; every channel has one (files where nothing is set)."""
    s = settings or get_settings()
    outbox = s.data_dir / "outbox"
    timeout = s.channel_timeout_s

    def files(channel: str) -> Sender:
        return FileSender(outbox / channel, name=channel)

    wecom = (
        WeComRobot(s.wecom_webhook_url, timeout_s=timeout, rate_per_s=s.robot_rate_per_s)
        if s.wecom_webhook_url
        else None
    )
    dingtalk = (
        DingTalkRobot(
            s.dingtalk_webhook_url,
            secret=s.dingtalk_secret,
            timeout_s=timeout,
            rate_per_s=s.robot_rate_per_s,
        )
        if s.dingtalk_webhook_url
        else None
    )
    senders: dict[str, Sender] = {
        Channel.SMS: SmsGateway(
            s.sms_url,
            key=s.sms_key,
            sender=s.sms_sender,
            template=s.sms_template,
            timeout_s=timeout,
            rate_per_s=s.sms_rate_per_s,
        )
        if s.sms_url
        else files(Channel.SMS),
        Channel.WECHAT: wecom or dingtalk or files(Channel.WECHAT),
        Channel.COUNTY: CountyReceiver(
            s.county_report_url, key=s.county_report_key, timeout_s=timeout
        )
        if s.county_report_url
        else files(Channel.COUNTY),
        Channel.LOUDSPEAKER: Loudspeaker(outbox / Channel.LOUDSPEAKER),
        Channel.DOOR_VISIT: files(Channel.DOOR_VISIT),
        Channel.CARD: files(Channel.CARD),
    }
    for channel in (Channel.TASK_LIST, Channel.PHONE_CALL):
        senders[channel] = dingtalk or wecom or files(channel)
    return senders


def configured_endpoints(settings: Settings | None = None) -> list[str]:
    """The channels that go to a real endpoint (not to files)."""
    s = settings or get_settings()
    return [
        name
        for name, url in (
            ("sms", s.sms_url),
            ("wecom", s.wecom_webhook_url),
            ("dingtalk", s.dingtalk_webhook_url),
            ("county", s.county_report_url),
        )
        if url
    ]
