package headwater.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code HW_WINDOW_START(time, minutes)}: the start of the fixed window of {@code minutes} minutes,
 * counted from the epoch (so in UTC), that holds {@code time}; NULL for a NULL time or a size that
 * is not positive. The Silver aggregates group by it.
 *
 * <p>The same start written in SQL (floor of a cast to TIMESTAMP, back to TIMESTAMP_LTZ) converts
 * through the session time zone twice per record, which was a seventh of the ingest job's dedup
 * thread; this is arithmetic on epoch milliseconds.
 */
public final class WindowStart extends ScalarFunction {

    public @DataTypeHint(value = "TIMESTAMP_LTZ(3)", bridgedTo = TimestampData.class) TimestampData eval(
            @DataTypeHint(value = "TIMESTAMP_LTZ(3)", bridgedTo = TimestampData.class) TimestampData time,
            Integer minutes) {
        if (time == null || minutes == null || minutes <= 0) {
            return null;
        }
        long ms = time.getMillisecond();
        return TimestampData.fromEpochMillis(ms - Math.floorMod(ms, minutes * 60_000L));
    }
}
