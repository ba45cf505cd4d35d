package headwater.flink;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonGenerator;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.TypeInference;

/**
 * HW_PARSE_RECORD(value, key, arrival, 'spec'): one Kafka record checked against its contract, in
 * one pass: a ROW of every contract field as its type, then {@code reason__} and {@code detail__}
 * (both NULL for a record that keeps its contract).
 *
 * <p>The spec is the contract rendered as JSON by {@code headwater.contracts.flink.parse_spec}: the
 * field names, types, text patterns, enums, bounds and the wording of every detail come from the
 * contract file, so this class holds the order of the checks and nothing else. The order is the one
 * of {@code Contract.classify} in Python, and the engine test runs both on the same records:
 * oversized, invalid UTF-8, not one JSON object, no key; then per field, in contract order, missing,
 * wrong type, unknown enum value, out of range; last, an event time ahead of the arrival clock.
 *
 * <p>The same checks written as SQL took four stacked projections that carried every field's text,
 * nested text and typed value from one to the next, the larger part of the source thread. The
 * function is declared non-deterministic so the planner evaluates it once per record and reads the
 * fields from its result, rather than repeating the call for every field the query reads. It never
 * throws on input: whatever the bytes, the answer is a reason code.
 */
public final class ParseRecord extends ScalarFunction {

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ObjectMapper SPEC_READER = new ObjectMapper();
    private static final byte[] UTF8_BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

    private transient String specText;
    private transient Spec spec;

    @Override
    public boolean isDeterministic() {
        return false;
    }

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return TypeInference.newBuilder()
                .typedArguments(DataTypes.BYTES(), DataTypes.BYTES(), DataTypes.TIMESTAMP_LTZ(3), DataTypes.STRING())
                .outputTypeStrategy(call -> {
                    Optional<String> text = call.isArgumentLiteral(3) ? call.getArgumentValue(3, String.class)
                            : Optional.empty();
                    if (text.isEmpty()) {
                        throw call.newValidationError("HW_PARSE_RECORD needs the contract spec as a string literal");
                    }
                    return Optional.of(Spec.parse(text.get()).rowType());
                })
                .build();
    }

    public RowData eval(byte[] value, byte[] key, Instant arrival, String specJson) {
        if (specJson == null) {
            return null;
        }
        if (specJson != specText && !specJson.equals(specText)) {
            spec = Spec.parse(specJson);
            specText = specJson;
        }
        return spec.check(value, key, arrival);
    }

    /** One contract field: how to read it and what to say when it is wrong. */
    private static final class FieldSpec {
        String name;
        String type; // string int long double boolean timestamp date decimal
        int precision;
        int scale;
        boolean required;
        Pattern pattern;
        Set<String> allowed;
        BigDecimal min;
        BigDecimal max;
        double minDouble = Double.NEGATIVE_INFINITY;
        double maxDouble = Double.POSITIVE_INFINITY;
        String missing;
        String prefix; // "name="
        String typeSuffix;
        String enumSuffix;
        String rangeSuffix;

        DataType dataType() {
            switch (type) {
                case "string": return DataTypes.STRING();
                case "int": return DataTypes.INT();
                case "long": return DataTypes.BIGINT();
                case "double": return DataTypes.DOUBLE();
                case "boolean": return DataTypes.BOOLEAN();
                case "timestamp": return DataTypes.TIMESTAMP_LTZ(3);
                case "date": return DataTypes.DATE();
                case "decimal": return DataTypes.DECIMAL(precision, scale);
                default: throw new IllegalArgumentException("unknown contract type " + type);
            }
        }

        /** The value as its type (Flink's internal form), or null when the text is not of the type. */
        Object typed(String raw) {
            if (pattern != null && !pattern.matcher(raw).find()) {
                return null;
            }
            try {
                switch (type) {
                    case "string": return StringData.fromString(raw);
                    case "int": return Integer.parseInt(raw.strip());
                    case "long": return Long.parseLong(raw.strip());
                    case "double": return Double.parseDouble(raw);
                    case "boolean": return raw.equals("true");
                    case "timestamp": {
                        long millis = UtcTimestamp.millis(raw);
                        return millis == UtcTimestamp.NONE ? null : TimestampData.fromEpochMillis(millis);
                    }
                    case "date": return date(raw);
                    case "decimal":
                        return DecimalData.fromBigDecimal(new BigDecimal(raw.strip()).setScale(scale), precision, scale);
                    default: return null;
                }
            } catch (NumberFormatException | ArithmeticException e) {
                return null;
            }
        }

        boolean outOfRange(Object typed) {
            switch (type) {
                case "double": {
                    double d = (Double) typed;
                    return d < minDouble || d > maxDouble;
                }
                case "int": case "long": case "decimal": {
                    if (min == null && max == null) {
                        return false;
                    }
                    BigDecimal v = typed instanceof DecimalData ? ((DecimalData) typed).toBigDecimal()
                            : BigDecimal.valueOf(((Number) typed).longValue());
                    return (min != null && v.compareTo(min) < 0) || (max != null && v.compareTo(max) > 0);
                }
                default: return false;
            }
        }

        private static Integer date(String raw) {
            if (raw.length() != 10) {
                return null; // the pattern let a trailing newline through; strptime does not
            }
            try {
                return (int) LocalDate.of(Integer.parseInt(raw.substring(0, 4)), Integer.parseInt(raw.substring(5, 7)),
                        Integer.parseInt(raw.substring(8, 10))).toEpochDay();
            } catch (DateTimeException | NumberFormatException e) {
                return null;
            }
        }
    }

    /** The contract as this function reads it. */
    private static final class Spec {
        final List<FieldSpec> fields = new ArrayList<>();
        final Map<String, Integer> index = new HashMap<>();
        int maxBytes;
        boolean keyRequired;
        int eventTime = -1;
        long maxSkewSeconds;
        String oversized;
        String invalidUtf8;
        String invalidJson;
        String nullKey;
        String futureSuffix;

        static Spec parse(String text) {
            JsonNode root;
            try {
                root = SPEC_READER.readTree(text);
            } catch (IOException e) {
                throw new IllegalArgumentException("HW_PARSE_RECORD: the spec is not JSON: " + e.getMessage(), e);
            }
            Spec s = new Spec();
            s.maxBytes = root.get("max_record_bytes").asInt();
            s.keyRequired = root.get("key_required").asBoolean();
            s.maxSkewSeconds = root.get("max_clock_skew_seconds").asLong();
            JsonNode details = root.get("details");
            s.oversized = details.get("oversized").asText();
            s.invalidUtf8 = details.get("invalid_utf8").asText();
            s.invalidJson = details.get("invalid_json").asText();
            s.nullKey = details.get("null_key").asText();
            s.futureSuffix = details.get("future_event_time").asText();
            for (JsonNode f : root.get("fields")) {
                FieldSpec fs = new FieldSpec();
                fs.name = f.get("name").asText();
                fs.type = f.get("type").asText();
                fs.precision = f.path("precision").asInt(0);
                fs.scale = f.path("scale").asInt(0);
                fs.required = f.get("required").asBoolean();
                if (f.hasNonNull("pattern")) {
                    // UNIX_LINES: a final '$' admits a trailing "\n" only, as Python's re does
                    fs.pattern = Pattern.compile(f.get("pattern").asText(), Pattern.UNIX_LINES);
                }
                if (f.hasNonNull("enum")) {
                    fs.allowed = new HashSet<>();
                    f.get("enum").forEach(v -> fs.allowed.add(v.asText()));
                }
                if (f.hasNonNull("min")) {
                    fs.min = new BigDecimal(f.get("min").asText());
                    fs.minDouble = fs.min.doubleValue();
                }
                if (f.hasNonNull("max")) {
                    fs.max = new BigDecimal(f.get("max").asText());
                    fs.maxDouble = fs.max.doubleValue();
                }
                JsonNode d = f.get("details");
                fs.missing = d.get("missing_field").asText();
                fs.prefix = d.get("prefix").asText();
                fs.typeSuffix = d.get("wrong_type").asText();
                fs.enumSuffix = d.path("unknown_enum").asText("");
                fs.rangeSuffix = d.path("out_of_range").asText("");
                s.index.put(fs.name, s.fields.size());
                s.fields.add(fs);
            }
            if (root.hasNonNull("event_time")) {
                s.eventTime = s.index.get(root.get("event_time").asText());
            }
            return s;
        }

        DataType rowType() {
            List<DataTypes.Field> out = new ArrayList<>();
            for (FieldSpec f : fields) {
                out.add(DataTypes.FIELD(f.name, f.dataType()));
            }
            out.add(DataTypes.FIELD("reason__", DataTypes.STRING()));
            out.add(DataTypes.FIELD("detail__", DataTypes.STRING()));
            return DataTypes.ROW(out.toArray(new DataTypes.Field[0])).bridgedTo(RowData.class);
        }

        RowData check(byte[] value, byte[] key, Instant arrival) {
            int n = fields.size();
            GenericRowData row = new GenericRowData(n + 2);
            if (value != null && value.length > maxBytes) {
                return verdict(row, "oversized", oversized);
            }
            if (value != null && !isUtf8(value)) {
                return verdict(row, "invalid_utf8", invalidUtf8);
            }
            String[] raw = new String[n];
            String[] nested = new String[n];
            if (value == null || !readObject(value, raw, nested)) {
                return verdict(row, "invalid_json", invalidJson);
            }
            if (keyRequired && key == null) {
                return verdict(row, "null_key", nullKey);
            }
            String reason = null;
            String detail = null;
            for (int i = 0; i < n; i++) {
                FieldSpec f = fields.get(i);
                Object typed = raw[i] == null ? null : f.typed(raw[i]);
                row.setField(i, typed);
                if (reason != null) {
                    continue; // the first broken rule names the reason; the typed values still fill in
                }
                if (raw[i] == null) {
                    if (nested[i] != null) {
                        reason = "wrong_type";
                        detail = f.prefix + nested[i] + f.typeSuffix;
                    } else if (f.required) {
                        reason = "missing_field";
                        detail = f.missing;
                    }
                } else if (typed == null) {
                    reason = "wrong_type";
                    detail = f.prefix + raw[i] + f.typeSuffix;
                } else if (f.allowed != null && !f.allowed.contains(raw[i])) {
                    reason = "unknown_enum";
                    detail = f.prefix + raw[i] + f.enumSuffix;
                } else if (f.outOfRange(typed)) {
                    reason = "out_of_range";
                    detail = f.prefix + raw[i] + f.rangeSuffix;
                }
            }
            if (reason == null && eventTime >= 0 && arrival != null) {
                TimestampData t = (TimestampData) row.getField(eventTime);
                if (t != null && t.toInstant().isAfter(arrival.plusSeconds(maxSkewSeconds))) {
                    reason = "future_event_time";
                    detail = fields.get(eventTime).prefix + raw[eventTime] + futureSuffix;
                }
            }
            if (reason != null) {
                row.setField(n, StringData.fromString(reason));
                row.setField(n + 1, StringData.fromString(detail));
            }
            return row;
        }

        private RowData verdict(GenericRowData row, String reason, String detail) {
            row.setField(fields.size(), StringData.fromString(reason));
            row.setField(fields.size() + 1, StringData.fromString(detail));
            return row;
        }

        /**
         * Reads one JSON object: each contract field's scalar text (a string unquoted, a number as
         * JSON_VALUE gives it) or its nested object or array text. False when the value is not exactly
         * one well-formed object. A repeated key keeps its last value, as Python's json module does.
         */
        private boolean readObject(byte[] value, String[] raw, String[] nested) {
            // the parser guesses UTF-16 or UTF-32 from zero bytes and skips a UTF-8 byte-order mark;
            // Python's json reads UTF-8 text only and rejects both, and so must this
            int head = Math.min(4, value.length);
            for (int i = 0; i < head; i++) {
                if (value[i] == 0) {
                    return false;
                }
            }
            if (value.length >= 3 && value[0] == UTF8_BOM[0] && value[1] == UTF8_BOM[1] && value[2] == UTF8_BOM[2]) {
                return false;
            }
            try (JsonParser parser = FACTORY.createParser(value)) {
                if (parser.nextToken() != JsonToken.START_OBJECT) {
                    return false;
                }
                JsonToken token;
                while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                    Integer i = index.get(parser.currentName());
                    JsonToken next = parser.nextToken();
                    if (i == null) {
                        parser.skipChildren(); // still tokenized: malformed content inside is found
                        continue;
                    }
                    raw[i] = scalar(parser, next);
                    nested[i] = next == JsonToken.START_OBJECT || next == JsonToken.START_ARRAY
                            ? nested(parser) : null;
                }
                return token == JsonToken.END_OBJECT && parser.nextToken() == null;
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        /**
         * A scalar's text as JSON_VALUE gives it: a string unquoted, an integer exactly, another
         * number as a double's text (so 2.500 and 25e-1 read alike), true or false; else null.
         */
        private static String scalar(JsonParser parser, JsonToken value) throws IOException {
            switch (value) {
                case VALUE_STRING: return parser.getText();
                case VALUE_NUMBER_INT: return parser.getNumberValue().toString();
                case VALUE_NUMBER_FLOAT: return Double.toString(parser.getDoubleValue());
                case VALUE_TRUE: return "true";
                case VALUE_FALSE: return "false";
                default: return null;
            }
        }

        /** The object or array at the parser as compact JSON text (for the detail of a wrong type). */
        private static String nested(JsonParser parser) throws IOException {
            StringWriter text = new StringWriter();
            try (JsonGenerator generator = FACTORY.createGenerator(text)) {
                generator.copyCurrentStructure(parser);
            }
            return text.toString();
        }

        private static boolean isUtf8(byte[] value) {
            for (byte b : value) {
                if (b < 0) { // not ASCII: the strict decoder decides (no replacement characters)
                    try {
                        StandardCharsets.UTF_8.newDecoder()
                                .onMalformedInput(CodingErrorAction.REPORT)
                                .onUnmappableCharacter(CodingErrorAction.REPORT)
                                .decode(ByteBuffer.wrap(value));
                        return true;
                    } catch (CharacterCodingException e) {
                        return false;
                    }
                }
            }
            return true;
        }
    }
}
