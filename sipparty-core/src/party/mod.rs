//! The Party: a SIP user agent facade (handle_input / poll_output).
