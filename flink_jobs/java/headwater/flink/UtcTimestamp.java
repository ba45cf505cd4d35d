package headwater.flink;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;


/**
 * The reader of the contracts' one timestamp form, {@code YYYY-MM-DDTHH:MM:SS[.mmm]Z} (UTC), used
 * by the functions that read event times: null for any other text or an impossible date or time
 * (February 30th, hour 24), as Python's {@code datetime.fromisoformat}.
 *
 * <p>A cast from a string goes through a general date-time formatter, which was a tenth of the
 * ingest job's time; this fixed form reads digit by digit.
 */
final class UtcTimestamp {

    private UtcTimestamp() {
    }

    /** The instant {@code text} names in the contracts' timestamp form, else null. */
    static Instant parse(String text) {
        if (text == null) {
            return null;
        }
        int n = text.length();
        if ((n != 20 && n != 24) || text.charAt(n - 1) != 'Z' || text.charAt(4) != '-' || text.charAt(7) != '-'
                || text.charAt(10) != 'T' || text.charAt(13) != ':' || text.charAt(16) != ':'
                || (n == 24 && text.charAt(19) != '.')) {
            return null;
        }
        int year = digits(text, 0, 4);
        int month = digits(text, 5, 2);
        int day = digits(text, 8, 2);
        int hour = digits(text, 11, 2);
        int minute = digits(text, 14, 2);
        int second = digits(text, 17, 2);
        int millis = n == 24 ? digits(text, 20, 3) : 0;
        if (year < 1 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || millis < 0) {
            return null; // year 0 does not exist for Python either
        }
        try {
            return LocalDateTime.of(year, month, day, hour, minute, second, millis * 1_000_000)
                    .toInstant(ZoneOffset.UTC);
        } catch (DateTimeException e) {
            return null;
        }
    }

    /** The decimal number in {@code text[from, from + count)}, or -1 when a character is no ASCII digit. */
    private static int digits(String text, int from, int count) {
        int value = 0;
        for (int i = from; i < from + count; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }
}
