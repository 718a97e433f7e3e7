import IO
import TestSupport
import Testing

/// Inputs the fuzzers (`make fuzz`, tools/fuzz.sh) found crashing a reader, kept in
/// Tests/Fixtures/fuzz-crashes/<target>/: each must now end in an error naming the file.
@Suite struct FuzzRegressionTests {
    static let dir = TestPaths.fixtures + "/fuzz-crashes"

    /// A column chunk whose footer entry is missing (and a row count of 2^60): it trapped on an
    /// array index and would have reserved memory for every claimed row.
    @Test(arguments: FileSystem.list(dir + "/parquet"))
    func parquet(_ name: String) throws {
        let path = Self.dir + "/parquet/" + name
        #expect(throws: EmbedError.self) {
            let file = try ParquetFile(path: path)
            let rows = try file.rows()
            while try rows.next() != nil {}
        }
    }
}
