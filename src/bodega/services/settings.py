"""Machine-wide settings: sign-in policy (MFA, session lifetime, idle timeout, throttling), and
the engine's tunables set by hand (`tune.*`, which win over what `bodega tune` measured)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import EventLevel, EventSource, Role, Setting
from bodega.storage.tuning import KNOBS, Tuning

if TYPE_CHECKING:
    from bodega.services import Bodega


@dataclass(frozen=True)
class SettingSpec:
    """A setting's type, default, bounds and meaning."""

    type: type
    default: Any
    help: str
    low: int = 0
    high: int = 0


SETTINGS: dict[str, SettingSpec] = {
    "auth.require_mfa": SettingSpec(bool, False, "operators and owners must sign in with a TOTP code"),
    "auth.session_hours": SettingSpec(int, 12, "a session ends this many hours after sign-in", 1, 24 * 90),
    "auth.idle_minutes": SettingSpec(int, 30, "a session ends after this many minutes without a request", 1, 24 * 60),
    "auth.max_failures": SettingSpec(int, 5, "failed sign-ins per account before it is throttled", 1, 1000),
    "auth.max_failures_per_address": SettingSpec(int, 20, "failed sign-ins per client address before it is "
                                                 "throttled", 1, 100000),
    "auth.throttle_minutes": SettingSpec(int, 15, "the window failed sign-ins are counted in", 1, 24 * 60),
    # Unset (None, or `auto`): the value `bodega tune` chose, else the engine's built-in default.
    **{f"tune.{name}": SettingSpec(int, None, f"{knob.help} (auto: tuned or {knob.default})", knob.low, knob.high)
       for name, knob in KNOBS.items()},
}
AUTO = "auto"  # the value that hands a tunable back to `bodega tune` and the built-in default


def parse_value(key: str, value: Any) -> Any:
    """value as key's type (text from the command line accepted), within its bounds."""
    spec = _spec(key)
    if spec.type is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise errors.InvalidInput(f"{key} is true or false, not {value!r}")
    if spec.default is None and (value is None or str(value).strip().lower() == AUTO):
        return None
    if isinstance(value, bool):
        raise errors.InvalidInput(f"{key} is a number, not {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise errors.InvalidInput(f"{key} is a whole number, not {value!r}") from None
    if not spec.low <= number <= spec.high:
        raise errors.InvalidInput(f"{key} is between {spec.low} and {spec.high}"
                                  + (f" (or {AUTO})" if spec.default is None else "") + f", not {number}")
    return number


def _spec(key: str) -> SettingSpec:
    try:
        return SETTINGS[key]
    except KeyError:
        raise errors.InvalidInput(f"no setting {key!r}: `bodega setting list` shows them") from None


_ALL_VALUES = sa.select(Setting.key, Setting.value)  # built once: every browser request reads the policy


class SettingService:
    """Reads settings (anyone) and changes them (owners), each change an audit event."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    def get(self, key: str) -> Any:
        """A setting's value (its default when never set)."""
        _spec(key)
        return self.values()[key]

    def values(self, session: Session | None = None) -> dict[str, Any]:
        """Every setting's value, read in one query (in session, if given)."""
        if session is None:
            with self._b.catalogue.session_scope(write=False) as s:
                return self.values(s)
        stored = {key: value for key, value in session.execute(_ALL_VALUES)}
        out = {}
        for key, spec in SETTINGS.items():
            try:
                out[key] = parse_value(key, stored[key]) if key in stored else spec.default
            except errors.InvalidInput:
                out[key] = spec.default
        return out

    def tuning(self) -> Tuning:
        """The tunables set by hand (`tune.*`; None where unset)."""
        values = self.values()
        return Tuning(**{name: values[f"tune.{name}"] for name in KNOBS})

    def list(self) -> list[dict[str, Any]]:
        """Every setting with its value, default and meaning."""
        with self._b.catalogue.session_scope(write=False) as s:
            stored = {r.key: r.value for r in s.scalars(sa.select(Setting))}
        return [{"key": k, "value": stored.get(k, spec.default), "default": spec.default, "help": spec.help}
                for k, spec in SETTINGS.items()]

    def set(self, key: str, value: Any) -> Any:
        """Changes a setting (owners only); returns the value stored."""
        me = self._b.users.require(Role.OWNER)
        value = parse_value(key, value)
        with self._b.catalogue.session_scope() as s:
            row = s.get(Setting, key)
            if value is None:  # back to its default (a tunable: to the tuned value)
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(Setting(key=key, value=value))
            else:
                row.value = value
            self._b.events.record(s, f"{me.email}: setting {key} = {value}", level=EventLevel.AUDIT,
                                  source=EventSource.USER, user_id=me.id, context={"setting": key, "value": value})
        return value
