package headwater.hadoop;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system ({@code file:}) without a forked {@code chmod} per file.
 *
 * <p>Without Hadoop's native library (it is not shipped with the engines' jars),
 * {@link RawLocalFileSystem} sets the mode of every file and directory it creates by running
 * {@code chmod} in a child process. Iceberg's writers create several files per commit (data,
 * manifests, metadata), so a streaming job on a {@code file:} warehouse forked about 23 processes a
 * second. This class sets the mode through {@code java.nio} instead, in the calling thread.
 *
 * <p>It extends the raw file system, not Hadoop's default {@code LocalFileSystem}: no {@code .crc}
 * side files are written (Parquet and Avro carry their own checks and Iceberg never reads them).
 */
public class PosixLocalFileSystem extends RawLocalFileSystem {

    // the nine permission bits of a mode, from the owner's read (0400) down to the others' execute (0001)
    private static final PosixFilePermission[] BITS = {
        PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE,
        PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
        PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE,
    };

    /** The POSIX permissions of a mode's low nine bits (sticky, setuid and setgid are not kept). */
    static Set<PosixFilePermission> toPosix(short mode) {
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        for (int i = 0; i < BITS.length; i++) {
            if ((mode & (0400 >> i)) != 0) {
                set.add(BITS[i]);
            }
        }
        return set;
    }

    /** The scheme Hadoop's {@code LocalFileSystem} declares (the raw one leaves it to its wrapper). */
    @Override
    public String getScheme() {
        return "file";
    }

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
        java.nio.file.Path file = pathToFile(p).toPath();
        try {
            Files.setPosixFilePermissions(file, toPosix(permission.toShort()));
        } catch (NoSuchFileException e) {
            throw new FileNotFoundException("File " + p + " does not exist");
        } catch (UnsupportedOperationException e) {
            // a file system without POSIX attributes: Hadoop's own way
            super.setPermission(p, permission);
        }
    }
}
