"""The alarm vocabulary: one snake_case code per kind of alarm, whatever the protocol calls it.

Codecs map their own bits and words onto these; analysts and alert consumers only ever see these.
Derived alarms (raised by processors, not devices) are at the end.
"""

from enum import StrEnum


class Alarm(StrEnum):
    # Personal safety: these go to the SOS topic.
    SOS = "sos"
    FALL = "fall"
    # Device / power
    LOW_BATTERY = "low_battery"
    POWER_OFF = "power_off"
    POWER_ON = "power_on"
    POWER_CUT = "power_cut"  # external power disconnected (vehicle trackers)
    REMOVAL = "removal"  # taken off the wrist / strap opened
    TAMPER = "tamper"
    # Location
    GEOFENCE_ENTER = "geofence_enter"
    GEOFENCE_EXIT = "geofence_exit"
    OVERSPEED = "overspeed"
    MOVEMENT = "movement"
    VIBRATION = "vibration"
    GPS_ANTENNA_CUT = "gps_antenna_cut"
    JAMMING = "jamming"
    # Vehicle / misc that GT06-family devices report
    DOOR = "door"
    ACCIDENT = "accident"
    HARSH_ACCELERATION = "harsh_acceleration"
    HARSH_BRAKING = "harsh_braking"
    HARSH_CORNERING = "harsh_cornering"
    IDLE = "idle"
    TEMPERATURE = "temperature"
    LOW_POWER = "low_power"  # external supply voltage low
    # Health readings reported as alarms by the device itself
    HEART_RATE_ABNORMAL = "heart_rate_abnormal"
    # A device alarm we could not map; the raw code is kept in the record's event details/logs
    GENERAL = "general"
    # Derived by processors
    OFFLINE = "offline"
    HEART_RATE_HIGH = "heart_rate_high"
    HEART_RATE_LOW = "heart_rate_low"
    SPO2_LOW = "spo2_low"
    BODY_TEMP_HIGH = "body_temp_high"


# Alarms that alerting consumers must see at once: published to the SOS topic.
SOS_ALARMS = frozenset({Alarm.SOS, Alarm.FALL})
