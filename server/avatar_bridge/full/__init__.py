"""The FULL leg: LiveAvatar runs speech, LLM and voice; the bridge drives it through LiveKit.

- :mod:`.core`: the sans-I/O decisions (client requests and data events in, actions out);
- :mod:`.transport`: the LiveKit room (data messages, the user's microphone track);
- :mod:`.leg`: the service's factory that joins the room and pairs the two.
"""
