package headwater.flink;

import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDate;


/**
 * The reader of the contracts' one timestamp form, {@code YYYY-MM-DDTHH:MM:SS[.mmm]Z} (UTC), used
 * by the functions that read event times: no value for any other text or an impossible date or
 * time (February 30th, hour 24), as Python's {@code datetime.fromisoformat}.
 *
 * <p>A cast from a string goes through a general date-time formatter, which was a tenth of the
 * ingest job's time; this fixed form reads digit by digit, from the record's bytes where it can.
 */
final class UtcTimestamp {

    /** What {@link #millis} returns for text that is not a timestamp of the form. */
    static final long NONE = Long.MIN_VALUE;

    private UtcTimestamp() {
    }

    /** Epoch milliseconds of the timestamp {@code text} names in the contracts' form, else {@link #NONE}. */
    static long millis(String text) {
        if (text == null || (text.length() != 20 && text.length() != 24)) {
            return NONE;
        }
        // a character beyond Latin-1 becomes '?', which no position of the form accepts
        return millis(text.getBytes(StandardCharsets.ISO_8859_1), 0, text.length());
    }

    /** Epoch milliseconds of the timestamp in {@code b[from, from + n)}, else {@link #NONE}. */
    static long millis(byte[] b, int from, int n) {
        if ((n != 20 && n != 24) || b[from + n - 1] != 'Z' || b[from + 4] != '-' || b[from + 7] != '-'
                || b[from + 10] != 'T' || b[from + 13] != ':' || b[from + 16] != ':'
                || (n == 24 && b[from + 19] != '.')) {
            return NONE;
        }
        int year = digits(b, from, 4);
        int month = digits(b, from + 5, 2);
        int day = digits(b, from + 8, 2);
        int hour = digits(b, from + 11, 2);
        int minute = digits(b, from + 14, 2);
        int second = digits(b, from + 17, 2);
        int millis = n == 24 ? digits(b, from + 20, 3) : 0;
        if (year < 1 || month < 0 || day < 0 || millis < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59
                || second < 0 || second > 59) {
            return NONE; // year 0 does not exist for Python either
        }
        long epochDay;
        try {
            epochDay = LocalDate.of(year, month, day).toEpochDay(); // checks the month and its length
        } catch (DateTimeException e) {
            return NONE;
        }
        return ((epochDay * 24 + hour) * 60 + minute) * 60_000L + second * 1000L + millis;
    }

    /** The decimal number in {@code b[from, from + count)}, or -1 when a byte is no ASCII digit. */
    private static int digits(byte[] b, int from, int count) {
        int value = 0;
        for (int i = from; i < from + count; i++) {
            int c = b[i];
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }
}
