"""ESP32 (ESP32-WROOM/-WROVER class) running MicroPython 1.2x.

PINS is a reference wiring (not yet tried on hardware: see firmware/README.md); override any
of them in device.json under "pins". Wi-Fi credentials come from device.json ("wifi_ssid",
"wifi_password"); a cellular modem variant would replace `network_up` only.
"""

import json
import time

import machine  # MicroPython only
from common.compat import EPOCH_OFFSET_S

PINS = {
    "probe_adc": [32, 33, 34, 35],  # ADC1 only: ADC2 is unusable while Wi-Fi is on
    "probe_power": 25,  # high-side switch for the capacitive probes
    "tsoil_onewire": 26,  # DS18B20 chain, one per probe depth, in order
    "battery_adc": 36,  # through a 100k/100k divider
    "gnss_tx": 17,
    "gnss_rx": 16,
    "gnss_power": 27,  # load switch of the GNSS module
}
BATTERY_DIVIDER = 2.0


class Board:
    def __init__(self, dev, root=""):
        pins = dict(PINS)
        pins.update(dev.get("pins", {}))
        self.pins = pins
        self.dev = dev
        self.rtc = machine.RTC()
        self._probe_power = machine.Pin(pins["probe_power"], machine.Pin.OUT, value=0)
        self._gnss_power = machine.Pin(pins["gnss_power"], machine.Pin.OUT, value=0)
        self._adcs = []
        for p in pins["probe_adc"]:
            adc = machine.ADC(machine.Pin(p))
            adc.atten(machine.ADC.ATTN_11DB)  # 0..~3.1 V
            self._adcs.append(adc)
        self._bat = machine.ADC(machine.Pin(pins["battery_adc"]))
        self._bat.atten(machine.ADC.ATTN_11DB)
        self._uart = None
        self._ds = None
        self._roms = None

    # -- time ----------------------------------------------------------------------------

    def now_ms(self):
        return (time.time_ns() // 1000000) + EPOCH_OFFSET_S * 1000

    def set_time_ms(self, unix_ms):
        secs = unix_ms // 1000 - EPOCH_OFFSET_S
        t = time.gmtime(secs)
        # RTC.datetime: (year, month, day, weekday, hours, minutes, seconds, subseconds)
        self.rtc.datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))

    def clock_ok(self):
        """False after a power loss: the RTC restarts at 2000-01-01 (deep sleep keeps it)."""
        return time.gmtime()[0] >= 2024

    def sync_clock(self):
        """Set the RTC by NTP (soil stations have no GNSS time)."""
        if not self.network_up():
            return False
        try:
            import ntptime

            ntptime.settime()
        except Exception:  # no NTP answer: try again next wake
            return False
        return self.clock_ok()

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def deep_sleep(self, ms):
        self.gnss_power(False)
        self.probes_power(False)
        machine.deepsleep(int(ms))  # does not return: the chip resets into main.py

    # -- network -------------------------------------------------------------------------

    def network_up(self, timeout_ms=20000):
        import network

        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        if wlan.isconnected():
            return True
        wlan.connect(self.dev.get("wifi_ssid", ""), self.dev.get("wifi_password", ""))
        start = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), start) < timeout_ms:
            if wlan.isconnected():
                return True
            time.sleep_ms(200)
        wlan.active(False)  # no coverage: do not burn the battery searching
        return False

    # -- sensors -------------------------------------------------------------------------

    def battery_v(self):
        return self._bat.read_uv() / 1e6 * BATTERY_DIVIDER

    def probes_power(self, on):
        self._probe_power.value(1 if on else 0)
        if on:
            time.sleep_ms(150)  # the probes' oscillators settle

    def probe_mv(self, i):
        return self._adcs[i].read_uv() / 1000  # factory-calibrated ADC reading

    def soil_temp_c(self, i):
        if self._ds is None:
            import ds18x20
            import onewire

            self._ds = ds18x20.DS18X20(onewire.OneWire(machine.Pin(self.pins["tsoil_onewire"])))
            self._roms = self._ds.scan()
        if i >= len(self._roms):
            return None
        if i == 0:
            self._ds.convert_temp()
            time.sleep_ms(750)
        return self._ds.read_temp(self._roms[i])

    # -- GNSS ----------------------------------------------------------------------------

    def gnss_power(self, on):
        self._gnss_power.value(1 if on else 0)
        if on and self._uart is None:
            self._uart = machine.UART(
                2,
                baudrate=9600,
                tx=self.pins["gnss_tx"],
                rx=self.pins["gnss_rx"],
                rxbuf=1024,
                timeout=100,
            )
        if not on and self._uart is not None:
            self._uart.deinit()
            self._uart = None

    def gnss_readline(self, timeout_ms):
        start = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), start) < timeout_ms:
            if self._uart is not None and self._uart.any():
                line = self._uart.readline()
                if line:
                    return line
            time.sleep_ms(20)
        return None

    # -- RTC memory (survives deep sleep, not power loss) --------------------------------

    def rtc_load(self):
        raw = self.rtc.memory()
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def rtc_save(self, state):
        self.rtc.memory(json.dumps(state).encode())
