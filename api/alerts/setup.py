"""Build the deliverer from configuration: a channel exists only when it is configured."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from api.alerts.channels import Channel
from api.alerts.channels.mqtt import MqttChannel
from api.alerts.channels.sms import SmsChannel, SmsCredentials, load_gateway
from api.alerts.channels.telegram import TelegramChannel
from api.alerts.channels.webhook import WebhookChannel
from api.alerts.delivery import Deliverer, RetryPolicy
from api.alerts.delivery_log import SqlDeliveryLog
from api.alerts.recipients import ChannelName
from jaylym.settings import AlertsDeliveryConfig


def build_channels(config: AlertsDeliveryConfig) -> dict[ChannelName, Channel]:
    channels: dict[ChannelName, Channel] = {
        "mqtt": MqttChannel(config.mqtt, timeout_s=config.timeout_s)
    }
    if config.webhook_secret is not None:
        channels["webhook"] = WebhookChannel(
            config.webhook_secret.get_secret_value(),
            timeout_s=config.timeout_s,
            allow_http=config.webhook_allow_http,
        )
    api_key = config.sms_api_key.get_secret_value() if config.sms_api_key else ""
    password = config.sms_password.get_secret_value() if config.sms_password else ""
    if api_key or (config.sms_login and password):
        channels["sms"] = SmsChannel(
            load_gateway(config.sms_gateway),
            SmsCredentials(
                api_key=api_key,
                login=config.sms_login,
                password=password,
                sender=config.sms_sender,
            ),
            base_url=config.sms_base_url,
            timeout_s=config.timeout_s,
        )
    if config.telegram_bot_token is not None:
        channels["telegram"] = TelegramChannel(
            config.telegram_bot_token.get_secret_value(),
            api_url=config.telegram_api_url,
            timeout_s=config.timeout_s,
        )
    return channels


def build_deliverer(
    config: AlertsDeliveryConfig, registry_engine: Engine | None = None
) -> Deliverer:
    """The deliverer, recovered. `registry_engine` is reused when the log lives in the
    registry database (pass it only then); otherwise the log's own database is opened."""
    if registry_engine is not None:
        store = SqlDeliveryLog(registry_engine)
    else:
        store = SqlDeliveryLog.from_url(config.db_url)
        if not inspect(store.engine).has_table("alembic_version"):
            # A standalone log; in the registry database the migrations own these tables.
            store.create_all()
    deliverer = Deliverer(
        store,
        build_channels(config),
        policy=RetryPolicy(
            max_attempts=config.max_attempts,
            base_s=config.backoff_base_s,
            max_backoff_s=config.backoff_max_s,
            max_retry_after_s=config.max_retry_after_s,
        ),
        timezone=config.timezone,
        default_language=config.default_language,
    )
    deliverer.recover()
    return deliverer
